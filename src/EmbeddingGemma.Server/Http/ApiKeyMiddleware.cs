using System.Security.Cryptography;
using System.Text;
using EmbeddingGemma.Server.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace EmbeddingGemma.Server.Http;

/// <summary>
/// Optional API key: "Authorization: Bearer &lt;key&gt;", compared in constant time (SHA-256 of both, then
/// <see cref="CryptographicOperations.FixedTimeEquals"/>, so neither content nor length leaks through timing).
/// /health (and /metrics unless <see cref="EmbeddingServerOptions.ProtectMetrics"/>) and CORS preflights stay public.
/// </summary>
internal sealed class ApiKeyMiddleware
{
    private readonly RequestDelegate _next;
    private readonly byte[]? _keyHash;
    private readonly bool _protectMetrics;
    private readonly ServerMetrics _metrics;

    public ApiKeyMiddleware(RequestDelegate next, IOptions<EmbeddingServerOptions> options, ServerMetrics metrics)
    {
        _next = next;
        var key = options.Value.ApiKey;
        _keyHash = string.IsNullOrEmpty(key) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(key));
        _protectMetrics = options.Value.ProtectMetrics;
        _metrics = metrics;
    }

    public Task InvokeAsync(HttpContext context)
    {
        if (_keyHash is null || HttpMethods.IsOptions(context.Request.Method) || IsPublic(context.Request.Path))
        {
            return _next(context);
        }
        if (Authorized(context.Request.Headers.Authorization.ToString()))
        {
            return _next(context);
        }
        _metrics.Rejected.WithLabels("unauthorized").Inc();
        var shape = context.Request.Path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase) ? ErrorShape.OpenAI : ErrorShape.Native;
        bool missing = context.Request.Headers.Authorization.Count == 0;
        var error = new ApiException(ApiErrorType.Unauthorized,
            missing ? "Missing API key: send \"Authorization: Bearer <key>\"." : "Invalid API key.");
        return ErrorWriter.WriteAsync(context, error, shape);
    }

    private bool IsPublic(PathString path) =>
        path.Equals("/health", StringComparison.OrdinalIgnoreCase) ||
        (!_protectMetrics && path.Equals("/metrics", StringComparison.OrdinalIgnoreCase));

    private bool Authorized(string header)
    {
        const string Prefix = "Bearer ";
        if (!header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        var given = SHA256.HashData(Encoding.UTF8.GetBytes(header.AsSpan(Prefix.Length).Trim().ToString()));
        return CryptographicOperations.FixedTimeEquals(given, _keyHash);
    }
}
