using System.Globalization;
using System.Text.Json;

namespace EmbeddingGemma.Search.Index;

/// <summary>
/// Reads documents to index: a JSON Lines file (one object per line: <c>id</c> or <c>_id</c>, <c>title</c>,
/// <c>text</c>, optional <c>metadata</c> object; other top-level string/number/bool fields also become metadata)
/// or a folder of .txt/.md files (id = path relative to the folder, title = file name without extension).
/// Errors name the file and line.
/// </summary>
public static class DocumentReader
{
    public static IEnumerable<SearchDocument> Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (Directory.Exists(path))
        {
            return ReadFolder(path);
        }
        if (!File.Exists(path))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Input not found: {path} (expected a .jsonl file or a folder).") { FilePath = path };
        }
        return ReadJsonLines(path);
    }

    private static IEnumerable<SearchDocument> ReadFolder(string folder)
    {
        var files = Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".md", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal);
        foreach (var f in files)
        {
            var text = File.ReadAllText(f);
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }
            yield return new SearchDocument(System.IO.Path.GetRelativePath(folder, f).Replace('\\', '/'), text)
            {
                Title = System.IO.Path.GetFileNameWithoutExtension(f),
            };
        }
    }

    public static IEnumerable<SearchDocument> ReadJsonLines(string file)
    {
        int lineNo = 0;
        // Strict UTF-8, line by line: invalid bytes are refused naming the line (InvalidArgument), never decoded to U+FFFD.
        using var reader = EmbeddingGemma.Formats.Utf8LineReader.Open(file);
        while (ReadLine(reader, file) is { } line)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }
            SearchDocument doc;
            try
            {
                doc = Parse(line, lineNo);
            }
            catch (JsonException e)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{file}:{lineNo}: not a JSON object ({e.Message}).", e) { FilePath = file };
            }
            catch (EmbeddingGemmaException e) when (e.Kind == ErrorKind.InvalidArgument)
            {
                // text that is not Unicode: the CLI's one rule for malformed text, "line N: ... in field ..." (exit 2)
                throw new EmbeddingGemmaException(e.Kind, $"{file}: line {lineNo}: {e.Message}", e) { FilePath = file };
            }
            catch (EmbeddingGemmaException e)
            {
                throw new EmbeddingGemmaException(e.Kind, $"{file}:{lineNo}: {e.Message}", e) { FilePath = file };
            }
            yield return doc;
        }
    }

    private static string? ReadLine(EmbeddingGemma.Formats.Utf8LineReader reader, string file)
    {
        try
        {
            return reader.ReadLine();
        }
        catch (EmbeddingGemmaException e)
        {
            throw new EmbeddingGemmaException(e.Kind, $"{file}: {e.Message}", e) { FilePath = file };
        }
    }

    /// <summary>Refuses a JSON string whose escapes decode to an unpaired surrogate ("\ud800": not text), naming the field, as the HTTP service does.</summary>
    private static void RequireText(JsonElement e, string field)
    {
        if (e.ValueKind == JsonValueKind.String)
        {
            try
            {
                _ = e.GetString();
            }
            catch (InvalidOperationException x)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"unpaired surrogate (invalid UTF-16 escape) in field '{field}'; the text must be valid Unicode.", x);
            }
        }
        else if (e.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in e.EnumerateObject())
            {
                RequireText(p.Value, $"{field}.{p.Name}");
            }
        }
    }

    private static SearchDocument Parse(string line, int lineNo)
    {
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, "expected a JSON object");
        }
        foreach (var p in root.EnumerateObject())
        {
            RequireText(p.Value, p.Name);
        }
        string? id = null, title = null, text = null;
        var meta = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in root.EnumerateObject())
        {
            switch (p.Name)
            {
                case "id" or "_id":
                    id = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : p.Value.GetRawText();
                    break;
                case "title":
                    title = p.Value.ValueKind == JsonValueKind.Null ? null : p.Value.ToString();
                    break;
                case "text":
                    text = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()
                        : throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, "field 'text' must be a string");
                    break;
                case "metadata" when p.Value.ValueKind == JsonValueKind.Object:
                    foreach (var m in p.Value.EnumerateObject())
                    {
                        meta[m.Name] = Scalar(m.Value);
                    }
                    break;
                default:
                    if (p.Value.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
                    {
                        meta[p.Name] = Scalar(p.Value);
                    }
                    break;
            }
        }
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, "field 'text' is missing or empty");
        }
        return new SearchDocument(id ?? lineNo.ToString(CultureInfo.InvariantCulture), text)
        {
            Title = title,
            Metadata = meta.Count == 0 ? null : meta,
        };
    }

    private static string Scalar(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.GetRawText();
}
