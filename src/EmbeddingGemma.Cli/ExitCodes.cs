namespace EmbeddingGemma.Cli;

/// <summary>Documented process exit codes (README, "Exit codes").</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>Unexpected internal error (a bug: please report it).</summary>
    public const int InternalError = 1;
    /// <summary>Bad command line or bad input data (ErrorKind.InvalidArgument, InputTooLong).</summary>
    public const int InvalidInput = 2;
    /// <summary>A file is missing or malformed (ErrorKind.NotFound, InvalidFormat).</summary>
    public const int BadFile = 3;
    /// <summary>The file is valid but uses something not supported (ErrorKind.Unsupported).</summary>
    public const int Unsupported = 4;
    /// <summary>Access denied: missing or wrong HF_TOKEN / API key.</summary>
    public const int Unauthorized = 5;
    /// <summary>Network failure (download).</summary>
    public const int Network = 6;
    /// <summary>Cancelled by the user (Ctrl+C).</summary>
    public const int Cancelled = 130;

    public static int For(ErrorKind kind) => kind switch
    {
        ErrorKind.InvalidArgument or ErrorKind.InputTooLong => InvalidInput,
        ErrorKind.NotFound or ErrorKind.InvalidFormat => BadFile,
        ErrorKind.Unsupported => Unsupported,
        ErrorKind.Unauthorized => Unauthorized,
        ErrorKind.Network => Network,
        _ => InternalError,
    };
}
