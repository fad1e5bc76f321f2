using System.Globalization;
using System.Text.Json;
using EmbeddingGemma.Server.Core;
using Microsoft.AspNetCore.Http;

namespace EmbeddingGemma.Server.Http;

/// <summary>The two error shapes: OpenAI's nested object on /v1, TEI's flat object on the native endpoints.</summary>
internal enum ErrorShape
{
    /// <summary><c>{"error": "...", "error_type": "validation"}</c> (TEI).</summary>
    Native,
    /// <summary><c>{"error": {"message", "type", "param", "code"}}</c> (OpenAI).</summary>
    OpenAI,
}

internal static class ErrorWriter
{
    public static int StatusFor(ApiException e, ErrorShape shape) => shape == ErrorShape.OpenAI ? e.OpenAIStatus : e.NativeStatus;

    public static string NativeType(ApiErrorType t) => t switch
    {
        ApiErrorType.Validation => "validation",
        ApiErrorType.TooLong => "validation",
        ApiErrorType.TooLarge => "payload_too_large",
        ApiErrorType.Unauthorized => "unauthorized",
        ApiErrorType.Overloaded => "overloaded",
        ApiErrorType.Unavailable => "unhealthy",
        ApiErrorType.NotFound => "not_found",
        ApiErrorType.UnsupportedMediaType => "unsupported_media_type",
        ApiErrorType.Timeout => "timeout",
        _ => "backend",
    };

    public static async Task WriteAsync(HttpContext context, ApiException e, ErrorShape shape)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            return;
        }
        response.Clear();
        response.StatusCode = StatusFor(e, shape);
        response.ContentType = "application/json";
        if (e.RetryAfterSeconds is int retry)
        {
            response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
        }
        if (e.Type == ApiErrorType.Unauthorized)
        {
            response.Headers.WWWAuthenticate = "Bearer";
        }
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, JsonOutput.Options))
        {
            w.WriteStartObject();
            if (shape == ErrorShape.OpenAI)
            {
                w.WriteStartObject("error");
                w.WriteString("message", e.Message);
                w.WriteString("type", e.OpenAIType);
                if (e.Param is null) { w.WriteNull("param"); } else { w.WriteString("param", e.Param); }
                if (e.OpenAICode is null) { w.WriteNull("code"); } else { w.WriteString("code", e.OpenAICode); }
                w.WriteEndObject();
            }
            else
            {
                w.WriteString("error", e.Message);
                w.WriteString("error_type", NativeType(e.Type));
                if (e.TokenCount is int n)
                {
                    w.WriteNumber("token_count", n);
                }
            }
            w.WriteEndObject();
        }
        response.ContentLength = buffer.Length;
        try
        {
            await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // the client is gone (or Kestrel already closed the connection, e.g. after a body timeout): the status stands
        }
    }
}

/// <summary>JSON writer settings: UTF-8 text and base64 '+' written as is (responses are application/json, never HTML).</summary>
internal static class JsonOutput
{
    public static readonly JsonWriterOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
