using EmbeddingGemma.Formats;

namespace EmbeddingGemma.Cli;

/// <summary>
/// How commands open their input and output files: input is strict UTF-8 read line by line (invalid bytes refused
/// naming the line, exit 2), a folder given for a file is named as such, and outputs are created before any work so
/// an unwritable path fails at once (exit 3) instead of after every vector was computed.
/// </summary>
internal static class CliFiles
{
    /// <summary>Opens <paramref name="path"/> (null or "-": stdin) as a strict UTF-8 line reader.</summary>
    public static Utf8LineReader OpenLines(string? path, string option = "--input")
    {
        if (path is null or "-")
        {
            return new Utf8LineReader(Console.OpenStandardInput());
        }
        if (Directory.Exists(path))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{option} {path} is a directory; give a file with one input per line.") { FilePath = path };
        }
        if (!File.Exists(path))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Input file not found: {path}") { FilePath = path };
        }
        return Utf8LineReader.Open(path);
    }

    /// <summary>Every line of <paramref name="path"/> (null or "-": stdin), strictly decoded.</summary>
    public static async Task<List<string>> ReadLinesAsync(string? path, CancellationToken ct, string option = "--input")
    {
        using var reader = OpenLines(path, option);
        var lines = new List<string>();
        while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
        {
            lines.Add(line);
        }
        return lines;
    }

    /// <summary>Creates (truncates) the output file now; null: stdout. I/O failures name the path (exit 3).</summary>
    public static Stream CreateOutput(string? path, string option = "--output")
    {
        if (path is null or "-")
        {
            return Console.OpenStandardOutput();
        }
        if (Directory.Exists(path))
        {
            throw new IOException($"cannot write {option} {Path.GetFullPath(path)}: it is a directory (give a file path)");
        }
        try
        {
            return new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot write {option} {Path.GetFullPath(path)}: {e.Message}", e);
        }
    }

    /// <summary>Refuses an output path that is an existing directory (where a file will be written) or an existing file (where a folder will be).</summary>
    public static void CheckOutputPath(string path, bool folder, string option)
    {
        var full = Path.GetFullPath(path);
        if (!folder && Directory.Exists(full))
        {
            throw new IOException($"cannot write {option} {full}: it is a directory (give a file path)");
        }
        if (folder && File.Exists(full))
        {
            throw new IOException($"cannot write {option} {full}: it is a file (give a folder path)");
        }
    }
}
