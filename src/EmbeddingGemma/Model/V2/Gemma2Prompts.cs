namespace EmbeddingGemma.Model.V2;

/// <summary>
/// EmbeddingGemma 2's sentence-transformers prompts (spec2 §3, HF-CONV <c>_TASK_PROMPTS</c>). Differences from v1:
/// <c>CodeRetrieval</c>, <c>SearchQuery</c>, <c>Document</c>, <c>FactChecking</c>, <c>QuestionAnswering</c>,
/// <c>SentenceSimilarity</c> exist, and <c>Summarization</c> uses the sentence-similarity prompt.
/// </summary>
public static class Gemma2Prompts
{
    public const string SearchQuery = "task: search result | query: ";
    public const string Document = "title: none | text: ";
    public const string CodeRetrieval = "task: code retrieval | query: ";
    public const string SentenceSimilarity = "task: sentence similarity | query: ";

    /// <summary>The prompts by sentence-transformers name.</summary>
    public static IReadOnlyDictionary<string, string> SentenceTransformersPrompts { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["query"] = SearchQuery,
        ["document"] = Document,
        ["BitextMining"] = SearchQuery,
        ["Reranking"] = SearchQuery,
        ["Retrieval"] = SearchQuery,
        ["Retrieval-query"] = SearchQuery,
        ["SearchQuery"] = SearchQuery,
        ["Document"] = Document,
        ["Retrieval-document"] = Document,
        ["CodeRetrieval"] = CodeRetrieval,
        ["InstructionRetrieval"] = CodeRetrieval,
        ["Clustering"] = "task: clustering | query: ",
        ["Classification"] = "task: classification | query: ",
        ["MultilabelClassification"] = "task: classification | query: ",
        ["FactChecking"] = "task: fact checking | query: ",
        ["QuestionAnswering"] = "task: question answering | query: ",
        ["PairClassification"] = SentenceSimilarity,
        ["SentenceSimilarity"] = SentenceSimilarity,
        ["STS"] = SentenceSimilarity,
        ["Summarization"] = SentenceSimilarity,
    };
}
