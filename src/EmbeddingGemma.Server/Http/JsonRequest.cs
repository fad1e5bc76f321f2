using System.Text.Json;
using System.Text.Unicode;
using EmbeddingGemma.Server.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Net.Http.Headers;

namespace EmbeddingGemma.Server.Http;

/// <summary>Reads a JSON request body within the size limit and reads typed fields with precise error messages.</summary>
internal static class JsonRequest
{
    /// <summary>
    /// Bytes past the limit the server still reads (and discards) before answering 413, so that a client which is
    /// still sending gets the answer instead of a broken pipe. Larger bodies are cut off at once.
    /// </summary>
    public const long DrainAllowance = 1 << 20;

    /// <summary>
    /// Reads the body as a JSON object. The rule for every JSON endpoint: the body is UTF-8 JSON, declared
    /// <c>Content-Type: application/json</c> (optionally <c>; charset=utf-8</c>), else 415; it is at most
    /// <paramref name="maxBytes"/> bytes, else 413; it parses, else 400; every string and property name in it is valid
    /// Unicode (no invalid UTF-8 bytes, no unpaired surrogate escape such as <c>\ud800</c>), else 400 naming the field.
    /// </summary>
    public static async Task<JsonDocument> ReadAsync(HttpContext context, long maxBytes)
    {
        RequireJsonContentType(context.Request);
        var sizeFeature = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
        {
            sizeFeature.MaxRequestBodySize = maxBytes + DrainAllowance;
        }
        if (context.Request.ContentLength is long declared && declared > maxBytes)
        {
            if (declared <= maxBytes + DrainAllowance)
            {
                await DrainAsync(context).ConfigureAwait(false);
            }
            throw TooLarge(declared, maxBytes);
        }
        // Admission by memory (MaxInFlightBytes) before the body is read: the declared size is taken up front, a
        // chunked body's bytes as they arrive; all are given back when the response is complete.
        var admission = context.RequestServices.GetService<RequestAdmission>();
        RequestAdmission.Lease? lease = null;
        if (admission is not null)
        {
            lease = admission.Begin();
            context.Response.RegisterForDispose(lease);
            if (context.Request.ContentLength is long n0 && !lease.TryAdd(n0))
            {
                await DrainAsync(context).ConfigureAwait(false);
                throw Busy(context, admission, n0);
            }
        }
        byte[] body;
        try
        {
            using var limited = new LimitedStream(context.Request.Body, maxBytes, context.Request.ContentLength is null ? lease : null);
            using var buffer = new MemoryStream(context.Request.ContentLength is long n and > 0 ? (int)Math.Min(n, 64 << 20) : 4096);
            await limited.CopyToAsync(buffer, context.RequestAborted).ConfigureAwait(false);
            body = buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(null, maxBytes);
        }
        catch (LimitedStream.AdmissionExceededException e)
        {
            await DrainAsync(context).ConfigureAwait(false);
            throw Busy(context, admission!, e.Requested);
        }
        catch (LimitedStream.LimitExceededException)
        {
            await DrainAsync(context).ConfigureAwait(false);
            throw TooLarge(null, maxBytes);
        }
        return Parse(body);
    }

    /// <summary>
    /// The body bytes as a JSON object: 400 (<see cref="ApiException"/>) when they do not parse, are not an object, or
    /// hold text that is not valid Unicode. The pure part of <see cref="ReadAsync"/> (fuzz target "http").
    /// </summary>
    internal static JsonDocument Parse(byte[] body)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException e)
        {
            throw new ApiException(ApiErrorType.Validation, $"Malformed JSON in the request body: {e.Message}", "body", e);
        }
        try
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ApiException(ApiErrorType.Validation, $"The request body must be a JSON object; got {Describe(doc.RootElement.ValueKind)}.", "body");
            }
            if (MayHoldInvalidText(body))
            {
                CheckText(doc.RootElement, null);
            }
            return doc;
        }
        catch
        {
            doc.Dispose();
            throw;
        }
    }

    /// <summary>415 unless the request declares <c>application/json</c> with no charset or charset utf-8.</summary>
    public static void RequireJsonContentType(HttpRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var header = request.ContentType;
        const string Expect = "send the body as JSON with \"Content-Type: application/json\" (curl: -H 'Content-Type: application/json')";
        if (string.IsNullOrWhiteSpace(header))
        {
            throw new ApiException(ApiErrorType.UnsupportedMediaType, $"Missing Content-Type: {Expect}.", "Content-Type");
        }
        if (!MediaTypeHeaderValue.TryParse(header, out var media) || !media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(ApiErrorType.UnsupportedMediaType, $"Unsupported Content-Type '{header}': {Expect}.", "Content-Type");
        }
        var charset = HeaderUtilities.RemoveQuotes(media.Charset);
        if (charset.HasValue && !charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase) && !charset.Equals("utf8", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiException(ApiErrorType.UnsupportedMediaType,
                $"Unsupported charset '{charset}' in Content-Type '{header}': the body must be UTF-8 (\"application/json\" or \"application/json; charset=utf-8\").", "Content-Type");
        }
    }

    /// <summary>
    /// False when no string of the body can fail to decode: the bytes are valid UTF-8 and hold no surrogate escape
    /// (<c>\uD800</c>..<c>\uDFFF</c>); a paired escape (an emoji written as <c>\ud83d\ude00</c>) only costs a check.
    /// </summary>
    private static bool MayHoldInvalidText(ReadOnlySpan<byte> body)
    {
        if (!Utf8.IsValid(body))
        {
            return true;
        }
        int at;
        while ((at = body.IndexOf("\\u"u8)) >= 0)
        {
            body = body[(at + 2)..];
            if (body.Length >= 2 && (body[0] | 0x20) == 'd' && (body[1] is (byte)'8' or (byte)'9' || (body[1] | 0x20) is >= 'a' and <= 'f'))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Decodes every string and property name; the first that is not valid Unicode is a 400 naming it.</summary>
    private static void CheckText(JsonElement element, string? path)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    string name;
                    try
                    {
                        name = property.Name;
                    }
                    catch (InvalidOperationException)
                    {
                        throw InvalidText(path, propertyName: true);
                    }
                    CheckText(property.Value, path is null ? name : $"{path}.{name}");
                }
                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (var item in element.EnumerateArray())
                {
                    CheckText(item, $"{path ?? "body"}[{i++}]");
                }
                break;
            case JsonValueKind.String:
                try
                {
                    _ = element.GetString();
                }
                catch (InvalidOperationException)
                {
                    throw InvalidText(path, propertyName: false);
                }
                break;
        }
    }

    private static ApiException InvalidText(string? path, bool propertyName)
    {
        const string Why = "is not valid Unicode text (invalid UTF-8 bytes, or an unpaired surrogate escape such as \\ud800); the body must be UTF-8 JSON";
        string field = path is null ? "body" : path.Split('.', '[')[0];
        string message = propertyName
            ? (path is null ? $"A property name of the request body {Why}." : $"A property name inside `{path}` {Why}.")
            : $"`{path}` {Why}.";
        return new ApiException(ApiErrorType.Validation, message, field);
    }

    private static async Task DrainAsync(HttpContext context)
    {
        var buffer = new byte[16384];
        try
        {
            while (await context.Request.Body.ReadAsync(buffer, context.RequestAborted).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (BadHttpRequestException)
        {
            // past the drain allowance: Kestrel closes the connection after the response
        }
    }

    private static ApiException Busy(HttpContext context, RequestAdmission admission, long bytes)
    {
        var options = context.RequestServices.GetService<ModelHost>()?.Options;
        context.RequestServices.GetService<ServerMetrics>()?.Rejected.WithLabels("inflight_bytes").Inc();
        return new ApiException(ApiErrorType.Unavailable,
            $"The server is at its limit of {admission.Limit} request-body bytes in flight (MaxInFlightBytes); this request needs {bytes} more. Retry shortly.", "body")
        {
            RetryAfterSeconds = options?.RetryAfterSeconds ?? 1,
        };
    }

    private static ApiException TooLarge(long? size, long max) => new(ApiErrorType.TooLarge,
        size is null ? $"The request body is larger than the limit of {max} bytes." : $"The request body has {size} bytes; the limit is {max} bytes.", "body");

    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    public static bool Has(JsonElement root, string name) => root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public static string? OptionalString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return v.ValueKind == JsonValueKind.String ? v.GetString()
            : throw new ApiException(ApiErrorType.Validation, $"`{name}` must be a string; got {Describe(v.ValueKind)}.", name);
    }

    public static bool? OptionalBool(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new ApiException(ApiErrorType.Validation, $"`{name}` must be a boolean; got {Describe(v.ValueKind)}.", name),
        };
    }

    private static bool IsInteger(string raw) =>
        raw.TrimStart('-').All(char.IsAsciiDigit);

    public static int? OptionalInt(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (v.ValueKind != JsonValueKind.Number)
        {
            throw new ApiException(ApiErrorType.Validation, $"`{name}` must be an integer; got {Describe(v.ValueKind)}.", name);
        }
        if (v.TryGetInt32(out int i))
        {
            return i;
        }
        if (v.TryGetInt64(out _) || IsInteger(v.GetRawText()))
        {
            // Never clamped: 2147483648 must not be reported (or used) as 2147483647. The value is quoted as sent.
            throw new ApiException(ApiErrorType.Validation, $"`{name}` is out of range: {v.GetRawText()} does not fit a 32-bit integer.", name);
        }
        throw new ApiException(ApiErrorType.Validation, $"`{name}` must be an integer; got {v.GetRawText()}.", name);
    }

    /// <summary>
    /// Reads inputs given as a string, an array of strings, one array of token ids, or an array whose elements are
    /// strings or token-id arrays (OpenAI / TEI shapes).
    /// </summary>
    public static List<EmbedInput> Inputs(JsonElement root, string name, bool allowTokens = true)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            throw new ApiException(ApiErrorType.Validation, $"`{name}` is required.", name);
        }
        var list = new List<EmbedInput>();
        switch (v.ValueKind)
        {
            case JsonValueKind.String:
                list.Add(EmbedInput.FromText(v.GetString()!));
                return list;
            case JsonValueKind.Array:
                break;
            default:
                throw new ApiException(ApiErrorType.Validation,
                    $"`{name}` must be a string or an array of {(allowTokens ? "strings or token ids" : "strings")}; got {Describe(v.ValueKind)}.", name);
        }
        if (v.GetArrayLength() == 0)
        {
            return list;
        }
        if (allowTokens && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number))
        {
            list.Add(EmbedInput.FromTokens(TokenIds(v, name, 0, single: true)));
            return list;
        }
        int index = 0;
        foreach (var e in v.EnumerateArray())
        {
            if (e.ValueKind == JsonValueKind.String)
            {
                list.Add(EmbedInput.FromText(e.GetString()!));
            }
            else if (allowTokens && e.ValueKind == JsonValueKind.Array)
            {
                list.Add(EmbedInput.FromTokens(TokenIds(e, name, index, single: false)));
            }
            else
            {
                throw new ApiException(ApiErrorType.Validation,
                    $"`{name}[{index}]` must be {(allowTokens ? "a string or an array of token ids" : "a string")}; got {Describe(e.ValueKind)}.", name);
            }
            index++;
        }
        return list;
    }

    private static int[] TokenIds(JsonElement array, string name, int index, bool single)
    {
        var ids = new int[array.GetArrayLength()];
        int j = 0;
        foreach (var e in array.EnumerateArray())
        {
            string where = single ? $"`{name}`" : $"`{name}[{index}]`";
            if (e.ValueKind != JsonValueKind.Number)
            {
                throw new ApiException(ApiErrorType.Validation, $"{where}: element {j} must be an integer token id; got {Describe(e.ValueKind)}.", name);
            }
            if (e.TryGetInt32(out int id))
            {
                ids[j++] = id;
            }
            else if (e.TryGetInt64(out long big))
            {
                throw new ApiException(ApiErrorType.Validation, $"{where}: token id {big} at position {j} is outside the vocabulary.", name);
            }
            else
            {
                throw new ApiException(ApiErrorType.Validation, $"{where}: element {j} must be an integer token id; got {e.GetRawText()}.", name);
            }
        }
        return ids;
    }

    /// <summary>An optional array of strings (or nulls), e.g. per-input titles.</summary>
    public static List<string?>? OptionalStringArray(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }
        if (v.ValueKind != JsonValueKind.Array)
        {
            throw new ApiException(ApiErrorType.Validation, $"`{name}` must be an array of strings; got {Describe(v.ValueKind)}.", name);
        }
        var list = new List<string?>();
        int i = 0;
        foreach (var e in v.EnumerateArray())
        {
            list.Add(e.ValueKind switch
            {
                JsonValueKind.String => e.GetString(),
                JsonValueKind.Null => null,
                _ => throw new ApiException(ApiErrorType.Validation, $"`{name}[{i}]` must be a string or null; got {Describe(e.ValueKind)}.", name),
            });
            i++;
        }
        return list;
    }
}

/// <summary>
/// A read-only stream that throws once more than a given number of bytes were read (chunked bodies), and, given an
/// admission lease, takes each read's bytes from it (throwing when the in-flight bound is reached).
/// </summary>
internal sealed class LimitedStream : Stream
{
    private readonly Stream _inner;
    private readonly long _max;
    private readonly RequestAdmission.Lease? _lease;
    private long _read;

    public LimitedStream(Stream inner, long max, RequestAdmission.Lease? lease = null)
    {
        _inner = inner;
        _max = max;
        _lease = lease;
    }

    /// <summary>The in-flight byte bound was reached while reading a body of unknown length.</summary>
    public sealed class AdmissionExceededException : IOException
    {
        public AdmissionExceededException() : base("Request admission limit reached.") { }
        public AdmissionExceededException(string message) : base(message) { }
        public AdmissionExceededException(string message, Exception inner) : base(message, inner) { }
        public long Requested { get; init; }
    }

    public sealed class LimitExceededException : IOException
    {
        public LimitExceededException() : base("Request body limit exceeded.") { }
        public LimitExceededException(string message) : base(message) { }
        public LimitExceededException(string message, Exception inner) : base(message, inner) { }
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _read; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count) => Count(_inner.Read(buffer, offset, count));

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        => Count(await _inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    private int Count(int n)
    {
        _read += n;
        if (_read > _max)
        {
            throw new LimitExceededException();
        }
        if (_lease is not null && n > 0 && !_lease.TryAdd(n))
        {
            throw new AdmissionExceededException { Requested = _read };
        }
        return n;
    }
}
