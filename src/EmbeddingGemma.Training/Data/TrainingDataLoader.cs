using System.Text;
using System.Text.Json;
using EmbeddingGemma.Evaluation.Data;

namespace EmbeddingGemma.Training.Data;

/// <summary>
/// Reads training data into one <see cref="TrainingDataset"/> per kind present (similarity pairs, plain pairs,
/// triplets), in that order. Formats (by extension, optionally gzipped <c>.gz</c>):
/// <list type="bullet">
/// <item><c>.json</c>: the article's <c>finetuning_data.json</c>, an array of objects
/// <c>{"type":"similarity","text1","text2","similarity"}</c>, <c>{"type":"triplet","anchor","positive","negative"}</c>,
/// <c>{"type":"pair","anchor","positive"}</c>; without <c>type</c> the kind follows from the fields (below).</item>
/// <item><c>.jsonl</c>: one such object per line.</item>
/// <item><c>.csv</c> / <c>.tsv</c> with a header of sentence-transformers column names: <c>anchor,positive[,negative]</c>,
/// <c>sentence1,sentence2,score</c> (also <c>text1,text2,similarity</c>; <c>label</c> as the score).</item>
/// </list>
/// Field names per kind (first match wins): text1 = text1 | sentence1; text2 = text2 | sentence2; score = similarity |
/// score | label; anchor = anchor | query; positive = positive | document. Errors name the file, the line and the field.
/// </summary>
public static class TrainingDataLoader
{
    private static readonly string[] Text1Names = ["text1", "sentence1"];
    private static readonly string[] Text2Names = ["text2", "sentence2"];
    private static readonly string[] ScoreNames = ["similarity", "score", "label"];
    private static readonly string[] AnchorNames = ["anchor", "query"];
    private static readonly string[] PositiveNames = ["positive", "document"];
    private static readonly string[] NegativeNames = ["negative"];

    /// <summary>Loads <paramref name="path"/>; throws <see cref="EmbeddingGemmaException"/> (NotFound, InvalidFormat) naming file, line and field.</summary>
    public static IReadOnlyList<TrainingDataset> Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Training data not found: {Path.GetFullPath(path)}.") { FilePath = path };
        }
        var name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        var ext = Path.GetExtension(name).ToLowerInvariant();
        var rows = ext switch
        {
            ".json" => ReadJsonArray(path),
            ".jsonl" or ".ndjson" => TextFiles.ReadJsonLines(path).Select(r => FromObject(r.Row, path, r.Line)).ToList(),
            ".csv" => FromTable(path, TextFiles.ReadCsv(path)),
            ".tsv" => FromTable(path, TextFiles.ReadTsv(path)),
            _ => throw new EmbeddingGemmaException(ErrorKind.Unsupported,
                $"{path}: unknown training data format '{ext}' (expected .json, .jsonl, .csv or .tsv, optionally .gz).") { FilePath = path },
        };
        if (rows.Count == 0)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: no training rows.") { FilePath = path };
        }
        var baseName = Path.GetFileNameWithoutExtension(name);
        return rows.GroupBy(r => r.Kind).OrderBy(g => g.Key)
            .Select(g => new TrainingDataset($"{baseName}:{TrainingDataset.KindName(g.Key)}", g.Key, g.Select(r => r.Row).ToList())).ToList();
    }

    private static EmbeddingGemmaException Error(string path, int line, string message) =>
        new(ErrorKind.InvalidFormat, $"{path}:{line}: {message}") { FilePath = path };

    private static List<(TrainingDataKind Kind, TrainingRow Row)> ReadJsonArray(string path)
    {
        byte[] bytes;
        using (var reader = TextFiles.Open(path))
        {
            bytes = Encoding.UTF8.GetBytes(reader.ReadToEnd());
        }
        var result = new List<(TrainingDataKind Kind, TrainingRow Row)>();
        var json = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        try
        {
            if (!json.Read())
            {
                throw Error(path, 1, "the file is empty (expected a JSON array of objects).");
            }
            if (json.TokenType == JsonTokenType.StartObject)
            {
                // one object per line without the array brackets: read as JSON lines
                return TextFiles.ReadJsonLines(path).Select(r => FromObject(r.Row, path, r.Line)).ToList();
            }
            if (json.TokenType != JsonTokenType.StartArray)
            {
                throw Error(path, LineAt(bytes, json.TokenStartIndex), $"expected a JSON array of objects, found {json.TokenType}.");
            }
            while (json.Read() && json.TokenType != JsonTokenType.EndArray)
            {
                var line = LineAt(bytes, json.TokenStartIndex);
                using var doc = JsonDocument.ParseValue(ref json);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw Error(path, line, $"array element is {doc.RootElement.ValueKind}, expected an object.");
                }
                result.Add(FromObject(doc.RootElement, path, line));
            }
        }
        catch (JsonException e)
        {
            throw Error(path, (int)(e.LineNumber ?? 0) + 1, $"not valid JSON ({e.Message}).");
        }
        return result;
    }

    private static int LineAt(byte[] bytes, long index)
    {
        var line = 1;
        for (var i = 0; i < index && i < bytes.Length; i++)
        {
            if (bytes[i] == (byte)'\n')
            {
                line++;
            }
        }
        return line;
    }

    private static (TrainingDataKind Kind, TrainingRow Row) FromObject(JsonElement o, string path, int line)
    {
        string? Find(string[] names, bool required, string what)
        {
            foreach (var n in names)
            {
                if (o.TryGetProperty(n, out var v))
                {
                    return v.ValueKind == JsonValueKind.String
                        ? (v.GetString()!.Length > 0 ? v.GetString() : throw Error(path, line, $"field \"{n}\" is empty."))
                        : throw Error(path, line, $"field \"{n}\" must be a string, found {v.ValueKind}.");
                }
            }
            return required ? throw Error(path, line, $"missing field \"{names[0]}\" ({what}).") : null;
        }
        var type = o.TryGetProperty("type", out var t)
            ? t.ValueKind == JsonValueKind.String ? t.GetString() : throw Error(path, line, $"field \"type\" must be a string, found {t.ValueKind}.")
            : null;
        TrainingDataKind kind;
        switch (type?.ToLowerInvariant())
        {
            case "similarity":
                kind = TrainingDataKind.ScoredPairs;
                break;
            case "triplet":
                kind = TrainingDataKind.Triplets;
                break;
            case "pair":
                kind = TrainingDataKind.Pairs;
                break;
            case null:
                kind = Has(o, Text1Names) ? TrainingDataKind.ScoredPairs
                    : Has(o, NegativeNames) ? TrainingDataKind.Triplets
                    : Has(o, AnchorNames) ? TrainingDataKind.Pairs
                    : throw Error(path, line, "cannot tell the row's kind: give \"type\" (similarity, triplet, pair) or the fields text1/text2/similarity, anchor/positive[/negative].");
                break;
            default:
                throw Error(path, line, $"field \"type\" is \"{type}\"; expected similarity, triplet or pair.");
        }
        var origin = $"{path}:{line}";
        switch (kind)
        {
            case TrainingDataKind.ScoredPairs:
            {
                var a = Find(Text1Names, true, "first text")!;
                var b = Find(Text2Names, true, "second text")!;
                double? score = null;
                foreach (var n in ScoreNames)
                {
                    if (o.TryGetProperty(n, out var v))
                    {
                        score = v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && double.IsFinite(d) ? d
                            : v.ValueKind == JsonValueKind.String ? TextFiles.ParseNumber(v.GetString()!, path, line, n)
                            : throw Error(path, line, $"field \"{n}\" must be a number, found {v.ValueKind}.");
                        break;
                    }
                }
                return score is null
                    ? throw Error(path, line, "missing field \"similarity\" (the pair's target score).")
                    : (kind, new TrainingRow([a, b], score, origin));
            }
            case TrainingDataKind.Pairs:
                return (kind, new TrainingRow([Find(AnchorNames, true, "the query")!, Find(PositiveNames, true, "the matching text")!], null, origin));
            default:
                return (kind, new TrainingRow([Find(AnchorNames, true, "the query")!, Find(PositiveNames, true, "the matching text")!, Find(NegativeNames, true, "the non-matching text")!], null, origin));
        }
    }

    private static bool Has(JsonElement o, string[] names) => names.Any(n => o.TryGetProperty(n, out _));

    private static List<(TrainingDataKind Kind, TrainingRow Row)> FromTable(string path, IEnumerable<TextRow> table)
    {
        var result = new List<(TrainingDataKind Kind, TrainingRow Row)>();
        int[]? cols = null;
        int scoreCol = -1;
        TrainingDataKind kind = default;
        string[] header = [];
        foreach (var row in table)
        {
            if (cols is null)
            {
                header = row.Fields.Select(f => f.Trim().ToLowerInvariant()).ToArray();
                int Col(string[] names) => names.Select(n => Array.IndexOf(header, n)).FirstOrDefault(i => i >= 0, -1);
                int t1 = Col(Text1Names), t2 = Col(Text2Names), an = Col(AnchorNames), po = Col(PositiveNames), ne = Col(NegativeNames);
                scoreCol = Col(ScoreNames);
                if (t1 >= 0 || t2 >= 0)
                {
                    if (t1 < 0 || t2 < 0 || scoreCol < 0)
                    {
                        throw Error(path, row.Line, $"header has [{string.Join(", ", header)}]; similarity pairs need sentence1, sentence2 and score (or text1, text2, similarity/label).");
                    }
                    kind = TrainingDataKind.ScoredPairs;
                    cols = [t1, t2];
                }
                else if (an >= 0 && po >= 0)
                {
                    kind = ne >= 0 ? TrainingDataKind.Triplets : TrainingDataKind.Pairs;
                    cols = ne >= 0 ? [an, po, ne] : [an, po];
                    scoreCol = -1;
                }
                else
                {
                    throw Error(path, row.Line, $"header has [{string.Join(", ", header)}]; expected sentence-transformers columns: anchor,positive[,negative] or sentence1,sentence2,score.");
                }
                continue;
            }
            if (row.Fields.Count != header.Length)
            {
                throw Error(path, row.Line, $"has {row.Fields.Count} fields, the header {header.Length}.");
            }
            var texts = new string[cols.Length];
            for (var i = 0; i < cols.Length; i++)
            {
                texts[i] = row.Fields[cols[i]];
                if (texts[i].Length == 0)
                {
                    throw Error(path, row.Line, $"field \"{header[cols[i]]}\" is empty.");
                }
            }
            double? label = scoreCol >= 0 ? TextFiles.ParseNumber(row.Fields[scoreCol], path, row.Line, header[scoreCol]) : null;
            result.Add((kind, new TrainingRow(texts, label, $"{path}:{row.Line}")));
        }
        return result;
    }
}
