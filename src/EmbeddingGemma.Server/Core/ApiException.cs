namespace EmbeddingGemma.Server.Core;

/// <summary>The error classes a client can see; each HTTP surface renders them in its own error shape.</summary>
public enum ApiErrorType
{
    /// <summary>Bad request: malformed JSON, wrong types, empty input, unknown names, bad dimensions or token ids.</summary>
    Validation,
    /// <summary>An input is too long and truncation is off.</summary>
    TooLong,
    /// <summary>The request is too large: body bytes, number of inputs or characters in one input.</summary>
    TooLarge,
    /// <summary>Missing or wrong API key.</summary>
    Unauthorized,
    /// <summary>The queue is full: retry later.</summary>
    Overloaded,
    /// <summary>The model is loading, failed to load, or the server is shutting down.</summary>
    Unavailable,
    /// <summary>The resource is not served (e.g. /search without --db).</summary>
    NotFound,
    /// <summary>The body is not declared as UTF-8 JSON (Content-Type other than application/json, or another charset).</summary>
    UnsupportedMediaType,
    /// <summary>The client sent the request too slowly (Kestrel's request body / header timeouts).</summary>
    Timeout,
    /// <summary>A server-side failure.</summary>
    Internal,
}

/// <summary>An expected failure of a request, with the HTTP status and (for the OpenAI shape) the offending parameter.</summary>
public sealed class ApiException : Exception
{
    public ApiException(ApiErrorType type, string message, string? param = null, Exception? inner = null)
        : base(message, inner)
    {
        Type = type;
        Param = param;
    }

    public ApiException() : this(ApiErrorType.Internal, "Internal error.") { }
    public ApiException(string message) : this(ApiErrorType.Validation, message) { }
    public ApiException(string message, Exception inner) : this(ApiErrorType.Validation, message, null, inner) { }

    public ApiErrorType Type { get; }
    public string? Param { get; }

    /// <summary>Seconds for a Retry-After header (429, 503).</summary>
    public int? RetryAfterSeconds { get; init; }

    /// <summary>Token count of a refused over-long input.</summary>
    public int? TokenCount { get; init; }

    /// <summary>The native (TEI-like) status code.</summary>
    public int NativeStatus => Type switch
    {
        ApiErrorType.Validation => 400,
        ApiErrorType.TooLong => 422,
        ApiErrorType.TooLarge => 413,
        ApiErrorType.Unauthorized => 401,
        ApiErrorType.Overloaded => 429,
        ApiErrorType.Unavailable => 503,
        ApiErrorType.NotFound => 404,
        ApiErrorType.UnsupportedMediaType => 415,
        ApiErrorType.Timeout => 408,
        _ => 500,
    };

    /// <summary>The OpenAI-route status code: every invalid request is a 400, except the body-size limit (413).</summary>
    public int OpenAIStatus => Type switch
    {
        ApiErrorType.Validation or ApiErrorType.TooLong => 400,
        ApiErrorType.TooLarge => Param == "body" ? 413 : 400,
        _ => NativeStatus,
    };

    /// <summary>OpenAI's error "type".</summary>
    public string OpenAIType => Type switch
    {
        ApiErrorType.Validation or ApiErrorType.TooLong or ApiErrorType.TooLarge or ApiErrorType.UnsupportedMediaType or ApiErrorType.Timeout => "invalid_request_error",
        ApiErrorType.Unauthorized => "authentication_error",
        ApiErrorType.Overloaded => "rate_limit_error",
        ApiErrorType.Unavailable => "unavailable_error",
        ApiErrorType.NotFound => "not_found_error",
        _ => "server_error",
    };

    /// <summary>OpenAI's error "code" (a short machine-readable reason, or null).</summary>
    public string? OpenAICode => Type switch
    {
        ApiErrorType.TooLong => "context_length_exceeded",
        ApiErrorType.TooLarge => "request_too_large",
        ApiErrorType.Unauthorized => "invalid_api_key",
        ApiErrorType.Overloaded => "overloaded",
        ApiErrorType.Unavailable => "unavailable",
        ApiErrorType.NotFound => "not_found",
        ApiErrorType.UnsupportedMediaType => "unsupported_media_type",
        ApiErrorType.Timeout => "timeout",
        _ => null,
    };

    /// <summary>Maps a library exception to the client-visible error.</summary>
    public static ApiException From(EmbeddingGemmaException e, string? param = null) => e.Kind switch
    {
        ErrorKind.InvalidArgument => new ApiException(ApiErrorType.Validation, e.Message, param, e),
        ErrorKind.InputTooLong => new ApiException(ApiErrorType.TooLong, e.Message, param, e),
        ErrorKind.Unauthorized => new ApiException(ApiErrorType.Unauthorized, e.Message, param, e),
        ErrorKind.Overloaded => new ApiException(ApiErrorType.Overloaded, e.Message, param, e),
        _ => new ApiException(ApiErrorType.Internal, e.Message, param, e),
    };
}
