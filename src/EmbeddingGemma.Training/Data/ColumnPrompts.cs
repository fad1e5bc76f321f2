using EmbeddingGemma.Embeddings;

namespace EmbeddingGemma.Training.Data;

/// <summary>
/// The prompt prepended to each column's texts, keyed by column name (<c>text1</c>, <c>text2</c>, <c>anchor</c>,
/// <c>positive</c>, <c>negative</c>). A value is a task name of the model card (<c>retrieval_query</c>,
/// <c>semantic_similarity</c>, … see <see cref="ModelPrompts.TaskNames"/>), a prompt name of the model
/// (config_sentence_transformers.json, e.g. <c>query</c>, <c>STS</c>), <c>none</c> (no prompt) or else the literal prompt
/// string. Defaults are the article's: pairs <c>semantic_similarity</c>; anchor <c>retrieval_query</c>; positive and
/// negative <c>retrieval_document</c> (<c>title: none | text: </c>).
/// </summary>
public static class ColumnPrompts
{
    /// <summary>The article's prompt per column.</summary>
    public static IReadOnlyDictionary<string, string> Defaults { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["text1"] = "semantic_similarity",
        ["text2"] = "semantic_similarity",
        ["anchor"] = "retrieval_query",
        ["positive"] = ModelPrompts.RetrievalDocumentTask,
        ["negative"] = ModelPrompts.RetrievalDocumentTask,
    };

    /// <summary>Every column name a prompt can be given for.</summary>
    public static IReadOnlyList<string> ColumnNames { get; } = ["text1", "text2", "anchor", "positive", "negative"];

    /// <summary>
    /// Parses <c>COLUMN=VALUE</c> items (CLI <c>--prompt</c>, repeatable) over the defaults; <c>*=VALUE</c> sets every
    /// column. Unknown column names are refused naming the valid ones.
    /// </summary>
    public static IReadOnlyDictionary<string, string> Parse(IEnumerable<string> items, IReadOnlyDictionary<string, string>? over = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        var result = new Dictionary<string, string>(over ?? Defaults, StringComparer.Ordinal);
        foreach (var item in items)
        {
            var eq = item.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--prompt '{item}': expected COLUMN=PROMPT (columns: {string.Join(", ", ColumnNames)}, or * for all).");
            }
            var column = item[..eq].Trim();
            var value = item[(eq + 1)..];
            if (column == "*")
            {
                foreach (var c in ColumnNames)
                {
                    result[c] = value;
                }
                continue;
            }
            if (!ColumnNames.Contains(column))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--prompt '{item}': unknown column '{column}' (columns: {string.Join(", ", ColumnNames)}, or *).");
            }
            result[column] = value;
        }
        return result;
    }

    /// <summary>The prompt string of <paramref name="value"/> for a model with <paramref name="resolver"/>'s prompts (null: none).</summary>
    public static string? Resolve(string? value, PromptResolver resolver)
    {
        ArgumentNullException.ThrowIfNull(resolver);
        if (value is null || value.Length == 0 || value == "none")
        {
            return null;
        }
        if (ModelPrompts.TaskNames.Contains(value))
        {
            return ModelPrompts.ForTask(value);
        }
        return resolver.Prompts.TryGetValue(value, out var p) ? p : value;
    }
}
