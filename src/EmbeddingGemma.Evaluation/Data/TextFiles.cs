using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace EmbeddingGemma.Evaluation.Data;

/// <summary>One parsed row of a delimited or JSON-lines file, with the 1-based line it started on.</summary>
public readonly record struct TextRow(int Line, IReadOnlyList<string> Fields);

/// <summary>
/// Readers for the data files the evaluation uses: CSV (RFC 4180 quoting, quoted fields may span lines), TSV (no
/// quoting, as the BEIR and sentence-transformers files are written) and JSON lines. Every file may be gzipped
/// (<c>name.gz</c>). Errors are <see cref="EmbeddingGemmaException"/> whose message starts with <c>file:line:</c>.
/// </summary>
public static class TextFiles
{
    /// <summary>The file itself, or <c>path.gz</c> when only the gzipped form exists; null when neither exists.</summary>
    public static string? Resolve(string path)
    {
        if (File.Exists(path))
        {
            return path;
        }
        return File.Exists(path + ".gz") ? path + ".gz" : null;
    }

    /// <summary>Like <see cref="Resolve"/> but throws NotFound naming both candidates.</summary>
    public static string Require(string path, string what)
    {
        return Resolve(path) ?? throw new EmbeddingGemmaException(ErrorKind.NotFound,
            $"{what} not found: neither {path} nor {path}.gz exists.") { FilePath = path };
    }

    /// <summary>Opens a text file (UTF-8, BOM skipped), decompressing when the name ends in .gz.</summary>
    public static TextReader Open(string path)
    {
        Stream s = File.OpenRead(path);
        if (path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase))
        {
            s = new GZipStream(s, CompressionMode.Decompress);
        }
        return new StreamReader(s, new UTF8Encoding(false), detectEncodingFromByteOrderMarks: true);
    }

    internal static EmbeddingGemmaException Error(string path, int line, string message) =>
        new(ErrorKind.InvalidFormat, $"{path}:{line}: {message}") { FilePath = path };

    /// <summary>Tab-separated rows; blank lines are skipped. <paramref name="expectedFields"/> (when &gt; 0) is checked per row.</summary>
    public static IEnumerable<TextRow> ReadTsv(string path, int expectedFields = 0)
    {
        using var reader = Open(path);
        int lineNo = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNo++;
            if (line.Length == 0)
            {
                continue;
            }
            var fields = line.Split('\t');
            if (expectedFields > 0 && fields.Length != expectedFields)
            {
                throw Error(path, lineNo, $"expected {expectedFields} tab-separated fields, found {fields.Length}.");
            }
            yield return new TextRow(lineNo, fields);
        }
    }

    /// <summary>Comma-separated rows with RFC 4180 quoting ("" inside quotes is a quote; quoted fields may hold newlines).</summary>
    public static IEnumerable<TextRow> ReadCsv(string path, int expectedFields = 0)
    {
        using var reader = Open(path);
        var fields = new List<string>();
        var field = new StringBuilder();
        int lineNo = 1, rowStart = 1;
        bool inQuotes = false, fieldWasQuoted = false, any = false;
        int c;
        while ((c = reader.Read()) >= 0)
        {
            char ch = (char)c;
            if (inQuotes)
            {
                if (ch == '"')
                {
                    if (reader.Peek() == '"')
                    {
                        reader.Read();
                        field.Append('"');
                    }
                    else
                    {
                        inQuotes = false;
                    }
                }
                else
                {
                    if (ch == '\n')
                    {
                        lineNo++;
                    }
                    field.Append(ch);
                }
                continue;
            }
            switch (ch)
            {
                case '"':
                    if (field.Length > 0 || fieldWasQuoted)
                    {
                        throw Error(path, lineNo, "a quote inside an unquoted field (RFC 4180: quote the whole field and double the quote).");
                    }
                    inQuotes = true;
                    fieldWasQuoted = true;
                    any = true;
                    break;
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    fieldWasQuoted = false;
                    any = true;
                    break;
                case '\r':
                    break;
                case '\n':
                    if (any || field.Length > 0)
                    {
                        fields.Add(field.ToString());
                        if (expectedFields > 0 && fields.Count != expectedFields)
                        {
                            throw Error(path, rowStart, $"expected {expectedFields} comma-separated fields, found {fields.Count}.");
                        }
                        yield return new TextRow(rowStart, fields.ToArray());
                    }
                    fields.Clear();
                    field.Clear();
                    fieldWasQuoted = false;
                    any = false;
                    lineNo++;
                    rowStart = lineNo;
                    break;
                default:
                    if (fieldWasQuoted)
                    {
                        throw Error(path, lineNo, $"text after a closing quote ('{ch}').");
                    }
                    field.Append(ch);
                    any = true;
                    break;
            }
        }
        if (inQuotes)
        {
            throw Error(path, rowStart, "a quoted field is not closed before the end of the file.");
        }
        if (any || field.Length > 0)
        {
            fields.Add(field.ToString());
            if (expectedFields > 0 && fields.Count != expectedFields)
            {
                throw Error(path, rowStart, $"expected {expectedFields} comma-separated fields, found {fields.Count}.");
            }
            yield return new TextRow(rowStart, fields.ToArray());
        }
    }

    /// <summary>One JSON object per non-blank line.</summary>
    public static IEnumerable<(int Line, JsonElement Row)> ReadJsonLines(string path)
    {
        using var reader = Open(path);
        int lineNo = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            JsonElement row;
            try
            {
                using var doc = JsonDocument.Parse(line);
                row = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw Error(path, lineNo, $"not valid JSON ({e.Message}).");
            }
            if (row.ValueKind != JsonValueKind.Object)
            {
                throw Error(path, lineNo, $"expected a JSON object, found {row.ValueKind}.");
            }
            yield return (lineNo, row);
        }
    }

    /// <summary>A string (or number, written as text) property; throws naming file and line when required and missing.</summary>
    public static string? GetString(JsonElement row, string name, string path, int line, bool required)
    {
        if (row.TryGetProperty(name, out var v))
        {
            switch (v.ValueKind)
            {
                case JsonValueKind.String:
                    return v.GetString();
                case JsonValueKind.Number:
                    return v.GetRawText();
                case JsonValueKind.Null:
                    break;
                default:
                    throw Error(path, line, $"field \"{name}\" must be a string, found {v.ValueKind}.");
            }
        }
        if (required)
        {
            throw Error(path, line, $"missing field \"{name}\".");
        }
        return null;
    }

    /// <summary>Parses a float field (invariant culture) or throws naming file, line and column.</summary>
    public static double ParseNumber(string text, string path, int line, string column)
    {
        if (!double.TryParse(text.Trim(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) || !double.IsFinite(v))
        {
            throw Error(path, line, $"column {column}: expected a number, found \"{Clip(text)}\".");
        }
        return v;
    }

    internal static string Clip(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
