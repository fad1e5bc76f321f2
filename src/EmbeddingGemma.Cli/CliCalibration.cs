using System.Text.Json;
using EmbeddingGemma.Formats;

namespace EmbeddingGemma.Cli;

/// <summary>
/// Calibration embeddings for <c>embed --precision int8|uint8 --calibration FILE</c>: a <c>.npy</c> float matrix
/// (<c>&lt;f4</c>/<c>&lt;f8</c>/<c>&lt;f2</c>, rows = vectors), a JSON array of float arrays, or JSONL with one float
/// array per line (what <c>embed --format jsonl</c> writes). Errors name the file and the line.
/// </summary>
internal static class CliCalibration
{
    public static float[][] Read(string path)
    {
        if (Directory.Exists(path))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--calibration {path} is a folder; give a .npy, .json or .jsonl file.") { FilePath = path };
        }
        if (!File.Exists(path))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Calibration file not found: {path}.") { FilePath = path };
        }
        if (path.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            return NpyFile.ReadFloatMatrix(path);
        }
        var lines = new List<string>();
        using (var reader = Utf8LineReader.Open(path))
        {
            while (reader.ReadLine() is { } line)
            {
                lines.Add(line);
            }
        }
        var text = string.Join('\n', lines);
        // One JSON document (an array of arrays, or a single array) ...
        try
        {
            using var doc = JsonDocument.Parse(text);
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Array && root.GetArrayLength() > 0 && root[0].ValueKind == JsonValueKind.Array)
            {
                var rows = new List<float[]>();
                int i = 0;
                foreach (var row in root.EnumerateArray())
                {
                    rows.Add(Row(row, path, $"vector {++i}"));
                }
                return [.. rows];
            }
            return [Row(root, path, "line 1")];
        }
        catch (JsonException)
        {
        }
        // ... or JSONL: one array per non-empty line.
        var result = new List<float[]>();
        for (int n = 0; n < lines.Count; n++)
        {
            if (string.IsNullOrWhiteSpace(lines[n]))
            {
                continue;
            }
            try
            {
                using var doc = JsonDocument.Parse(lines[n]);
                result.Add(Row(doc.RootElement, path, $"line {n + 1}"));
            }
            catch (JsonException e)
            {
                throw Bad(path, $"line {n + 1} is not JSON ({e.Message}); expected a JSON array of numbers per line");
            }
        }
        return result.Count > 0 ? [.. result] : throw Bad(path, "no vectors");
    }

    private static float[] Row(JsonElement e, string path, string where)
    {
        if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() == 0)
        {
            throw Bad(path, $"{where} is not a non-empty JSON array of numbers");
        }
        var row = new float[e.GetArrayLength()];
        int i = 0;
        foreach (var v in e.EnumerateArray())
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetSingle(out row[i]) || !float.IsFinite(row[i]))
            {
                throw Bad(path, $"{where}, value {i + 1} ({v.GetRawText()}) is not a finite float32 number");
            }
            i++;
        }
        return row;
    }

    private static EmbeddingGemmaException Bad(string path, string why) =>
        new(ErrorKind.InvalidFormat, $"{path}: calibration file: {why}.") { FilePath = path };
}
