namespace EmbeddingGemma;

/// <summary>
/// The kinds of failure the library reports. One set, mapped once to HTTP status codes (server) and exit codes (CLI).
/// </summary>
public enum ErrorKind
{
    /// <summary>The caller's input is wrong (empty text, bad dimension, unknown prompt name, bad token id...). HTTP 400, exit 2.</summary>
    InvalidArgument,
    /// <summary>An input is longer than allowed and truncation was turned off. HTTP 413/422, exit 2.</summary>
    InputTooLong,
    /// <summary>A file or resource does not exist. HTTP 404, exit 3.</summary>
    NotFound,
    /// <summary>A file exists but is malformed, truncated or inconsistent. HTTP 500 (server-side file) or 400 (uploaded), exit 3.</summary>
    InvalidFormat,
    /// <summary>A valid but unsupported feature (tensor type, architecture, dtype). Exit 4.</summary>
    Unsupported,
    /// <summary>Access denied (missing token for a gated repository, bad API key). HTTP 401/403, exit 5.</summary>
    Unauthorized,
    /// <summary>Network or remote failure. HTTP 502, exit 6.</summary>
    Network,
    /// <summary>The system is overloaded (queue full). HTTP 429.</summary>
    Overloaded,
}

/// <summary>
/// The one exception type the library throws for expected failures. The message names the file, tensor, field
/// or position at fault and what was expected.
/// </summary>
public class EmbeddingGemmaException : Exception
{
    public EmbeddingGemmaException(ErrorKind kind, string message, Exception? inner = null)
        : base(message, inner) => Kind = kind;

    public EmbeddingGemmaException() : this(ErrorKind.InvalidArgument, "Invalid argument.") { }
    public EmbeddingGemmaException(string message) : this(ErrorKind.InvalidArgument, message) { }
    public EmbeddingGemmaException(string message, Exception inner) : this(ErrorKind.InvalidArgument, message, inner) { }

    /// <summary>What went wrong, in the shared vocabulary of error kinds.</summary>
    public ErrorKind Kind { get; }

    /// <summary>The file involved, when there is one.</summary>
    public string? FilePath { get; init; }
}
