using System.Text.Json;

namespace EmbeddingGemma.Embeddings;

/// <summary>
/// The prompts of EmbeddingGemma: the 14 of <c>config_sentence_transformers.json</c> (spec §4, HF-CONV) and the
/// model card's task names.
/// </summary>
public static class ModelPrompts
{
    public const string SearchQuery = "task: search result | query: ";
    public const string Document = "title: none | text: ";

    /// <summary>The 14 prompts by sentence-transformers name, in the converter's order.</summary>
    public static IReadOnlyDictionary<string, string> SentenceTransformersPrompts { get; } = new OrderedPrompts
    {
        ["query"] = SearchQuery,
        ["document"] = Document,
        ["BitextMining"] = SearchQuery,
        ["Clustering"] = "task: clustering | query: ",
        ["Classification"] = "task: classification | query: ",
        ["InstructionRetrieval"] = "task: code retrieval | query: ",
        ["MultilabelClassification"] = "task: classification | query: ",
        ["PairClassification"] = "task: sentence similarity | query: ",
        ["Reranking"] = SearchQuery,
        ["Retrieval"] = SearchQuery,
        ["Retrieval-query"] = SearchQuery,
        ["Retrieval-document"] = Document,
        ["STS"] = "task: sentence similarity | query: ",
        ["Summarization"] = "task: summarization | query: ",
    };

    /// <summary>The model card's task names (the article's <c>task</c> values) and their query descriptions.</summary>
    public static IReadOnlyDictionary<string, string> TaskDescriptions { get; } = new OrderedPrompts
    {
        ["retrieval_query"] = "search result",
        ["qa_query"] = "question answering",
        ["fact_checking"] = "fact checking",
        ["classification"] = "classification",
        ["clustering"] = "clustering",
        ["semantic_similarity"] = "sentence similarity",
        ["code_retrieval"] = "code retrieval",
    };

    /// <summary>The task name that formats documents (<c>title: {title | none} | text: </c>).</summary>
    public const string RetrievalDocumentTask = "retrieval_document";

    /// <summary>All task names accepted by <see cref="ForTask"/>.</summary>
    public static IEnumerable<string> TaskNames => TaskDescriptions.Keys.Append(RetrievalDocumentTask);

    /// <summary>The prompt of a model-card task; <paramref name="title"/> is only used by retrieval_document.</summary>
    public static string ForTask(string task, string? title = null)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (task == RetrievalDocumentTask)
        {
            return $"title: {(string.IsNullOrWhiteSpace(title) ? "none" : title.Trim())} | text: ";
        }
        if (TaskDescriptions.TryGetValue(task, out var d))
        {
            return $"task: {d} | query: ";
        }
        throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Unknown task '{task}'. Valid tasks: {string.Join(", ", TaskNames)}.");
    }

    /// <summary>Reads the prompts of config_sentence_transformers.json in a folder (null when absent).</summary>
    public static IReadOnlyDictionary<string, string>? ReadSentenceTransformersPrompts(string folder)
    {
        var path = Path.Combine(folder, "config_sentence_transformers.json");
        if (!File.Exists(path))
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: expected a JSON object.") { FilePath = path };
            }
            if (!doc.RootElement.TryGetProperty("prompts", out var p) || p.ValueKind == JsonValueKind.Null)
            {
                return null;
            }
            if (p.ValueKind != JsonValueKind.Object)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: field 'prompts' must be an object of name -> prompt strings, got {p.ValueKind}.") { FilePath = path };
            }
            var result = new OrderedPrompts();
            foreach (var e in p.EnumerateObject())
            {
                result[e.Name] = e.Value.ValueKind == JsonValueKind.String ? e.Value.GetString()!
                    : throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: field 'prompts.{e.Name}' must be a string, got {e.Value.GetRawText()}.") { FilePath = path };
            }
            return result;
        }
        catch (JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidFormat, $"{path}: invalid JSON: {e.Message}", e) { FilePath = path };
        }
    }

    private sealed class OrderedPrompts : Dictionary<string, string>
    {
        public OrderedPrompts() : base(StringComparer.Ordinal) { }
    }
}
