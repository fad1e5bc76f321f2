namespace EmbeddingGemma.Evaluation.Data;

/// <summary>
/// Reads named columns from a TSV, CSV or JSON-lines file (optionally .gz), for users' own STS, label and pair files.
/// Delimited files: when the first row names every wanted column (any alias, case-insensitive) it is a header and
/// columns are taken by name; otherwise columns are taken by position (first, second, ...) and the first row is data.
/// JSON lines: columns are keys (any alias). Missing or empty values are errors naming file and line.
/// </summary>
public static class TableLoader
{
    /// <summary>Column aliases for STS files: sentence1, sentence2, score.</summary>
    public static readonly string[][] StsColumns = [["sentence1", "text1", "s1"], ["sentence2", "text2", "s2"], ["score", "similarity_score", "label"]];
    /// <summary>Column aliases for label files: text, label.</summary>
    public static readonly string[][] LabelColumns = [["text", "sentence"], ["label", "category"]];
    /// <summary>Column aliases for pair-classification files: sentence1, sentence2, label (0/1).</summary>
    public static readonly string[][] PairColumns = [["sentence1", "text1", "s1"], ["sentence2", "text2", "s2"], ["label", "labels"]];

    public static IEnumerable<(int Line, string[] Values)> Read(string path, IReadOnlyList<string[]> columns)
    {
        var resolved = TextFiles.Resolve(path) ?? throw new EmbeddingGemmaException(ErrorKind.NotFound, $"data file not found: {path}") { FilePath = path };
        var name = resolved.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? resolved[..^3] : resolved;
        var ext = Path.GetExtension(name).ToLowerInvariant();
        return ext switch
        {
            ".jsonl" or ".json" => ReadJson(resolved, columns),
            ".csv" => ReadDelimited(resolved, TextFiles.ReadCsv(resolved), columns),
            ".tsv" or ".txt" => ReadDelimited(resolved, TextFiles.ReadTsv(resolved), columns),
            _ => throw new EmbeddingGemmaException(ErrorKind.Unsupported, $"{resolved}: unknown data file type '{ext}' (expected .tsv, .csv or .jsonl, optionally .gz).") { FilePath = resolved },
        };
    }

    private static IEnumerable<(int, string[])> ReadJson(string path, IReadOnlyList<string[]> columns)
    {
        foreach (var (line, row) in TextFiles.ReadJsonLines(path))
        {
            var values = new string[columns.Count];
            for (int c = 0; c < columns.Count; c++)
            {
                string? v = null;
                foreach (var alias in columns[c])
                {
                    if (row.TryGetProperty(alias, out _))
                    {
                        v = TextFiles.GetString(row, alias, path, line, required: true);
                        break;
                    }
                }
                values[c] = v ?? throw TextFiles.Error(path, line, $"missing field \"{columns[c][0]}\".");
            }
            yield return (line, values);
        }
    }

    private static IEnumerable<(int, string[])> ReadDelimited(string path, IEnumerable<TextRow> rows, IReadOnlyList<string[]> columns)
    {
        int[]? index = null;
        foreach (var row in rows)
        {
            if (index is null)
            {
                var header = row.Fields.Select(f => f.Trim().ToLowerInvariant()).ToList();
                var byName = columns.Select(aliases => aliases.Select(a => header.IndexOf(a)).FirstOrDefault(i => i >= 0, -1)).ToArray();
                if (byName.All(i => i >= 0))
                {
                    index = byName;
                    continue;
                }
                index = Enumerable.Range(0, columns.Count).ToArray();
            }
            var values = new string[columns.Count];
            for (int c = 0; c < columns.Count; c++)
            {
                if (index[c] >= row.Fields.Count)
                {
                    throw TextFiles.Error(path, row.Line, $"expected a value for column \"{columns[c][0]}\" (field {index[c] + 1}), the row has {row.Fields.Count} fields.");
                }
                values[c] = row.Fields[index[c]];
            }
            yield return (row.Line, values);
        }
    }

    /// <summary>Loads an STS file (sentence1, sentence2, score).</summary>
    public static StsDataset LoadSts(string path, string? name = null)
    {
        var pairs = new List<StsPair>();
        foreach (var (line, v) in Read(path, StsColumns))
        {
            RequireText(path, line, v);
            pairs.Add(new StsPair(v[0], v[1], TextFiles.ParseNumber(v[2], path, line, "score")));
        }
        RequireRows(path, pairs.Count);
        return new StsDataset(name ?? Path.GetFileName(path), pairs);
    }

    /// <summary>Loads a label file (text, label).</summary>
    public static List<LabeledText> LoadLabeled(string path)
    {
        var items = new List<LabeledText>();
        foreach (var (line, v) in Read(path, LabelColumns))
        {
            RequireText(path, line, v);
            items.Add(new LabeledText(v[0], v[1].Trim()));
        }
        RequireRows(path, items.Count);
        return items;
    }

    /// <summary>Loads a pair-classification file (sentence1, sentence2, label 0/1).</summary>
    public static PairClassificationDataset LoadPairs(string path, string? name = null)
    {
        var pairs = new List<LabeledPair>();
        foreach (var (line, v) in Read(path, PairColumns))
        {
            RequireText(path, line, v);
            var label = v[2].Trim() switch
            {
                "1" or "true" or "True" => true,
                "0" or "false" or "False" => false,
                _ => throw TextFiles.Error(path, line, $"column label: expected 0 or 1, found \"{TextFiles.Clip(v[2])}\"."),
            };
            pairs.Add(new LabeledPair(v[0], v[1], label));
        }
        RequireRows(path, pairs.Count);
        return new PairClassificationDataset(name ?? Path.GetFileName(path), pairs);
    }

    internal static void RequireText(string path, int line, string[] values)
    {
        for (int i = 0; i < values.Length; i++)
        {
            if (string.IsNullOrWhiteSpace(values[i]))
            {
                throw TextFiles.Error(path, line, $"field {i + 1} is empty.");
            }
        }
    }

    internal static void RequireRows(string path, int count)
    {
        if (count == 0)
        {
            throw TextFiles.Error(path, 1, "no data rows (empty split).");
        }
    }
}
