using System.Text.Json.Serialization;
using EmbeddingGemma.Search.Index;

namespace EmbeddingGemma.Search;

/// <summary>Body of <c>POST /search</c>.</summary>
public sealed record SearchRequest
{
    [JsonPropertyName("query")] public string? Query { get; init; }
    [JsonPropertyName("top_k")] public int TopK { get; init; } = 5;
    [JsonPropertyName("threshold")] public float? Threshold { get; init; }
    /// <summary>exact | funnel | ann | hybrid (default exact).</summary>
    [JsonPropertyName("mode")] public string? Mode { get; init; }
    [JsonPropertyName("filter")] public Dictionary<string, string>? Filter { get; init; }
}

/// <summary>One result of <c>POST /search</c>.</summary>
public sealed record SearchResultItem(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("title")] string? Title,
    [property: JsonPropertyName("text")] string Text,
    [property: JsonPropertyName("chunk")] int Chunk,
    [property: JsonPropertyName("start")] int Start,
    [property: JsonPropertyName("end")] int End,
    [property: JsonPropertyName("score")] float Score,
    [property: JsonPropertyName("similarity")] float? Similarity,
    [property: JsonPropertyName("metadata")] IReadOnlyDictionary<string, string>? Metadata);

/// <summary>Response of <c>POST /search</c>.</summary>
public sealed record SearchResponse(
    [property: JsonPropertyName("query")] string Query,
    [property: JsonPropertyName("mode")] string Mode,
    [property: JsonPropertyName("results")] IReadOnlyList<SearchResultItem> Results);

/// <summary>
/// The HTTP-facing search: validates a <see cref="SearchRequest"/>, runs it through a <see cref="SemanticSearchEngine"/>
/// and shapes the response. Errors are <see cref="EmbeddingGemmaException"/> (InvalidArgument -> HTTP 400).
/// Thread-safe for concurrent searches. Map it as <c>POST /search</c> when the server is started with <c>--db</c>.
/// </summary>
public sealed class SearchService
{
    private readonly SemanticSearchEngine _engine;

    public SearchService(SemanticSearchEngine engine) => _engine = engine ?? throw new ArgumentNullException(nameof(engine));

    public async Task<SearchResponse> SearchAsync(SearchRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (string.IsNullOrWhiteSpace(request.Query))
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "Field 'query' is missing or empty.");
        }
        if (request.TopK <= 0 || request.TopK > 1000)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Field 'top_k' must be in 1..1000, got {request.TopK}.");
        }
        var mode = ParseMode(request.Mode);
        var hits = await _engine.SearchAsync(request.Query, new SearchOptions
        {
            TopK = request.TopK,
            Threshold = request.Threshold,
            Mode = mode,
            Filter = request.Filter,
        }, cancellationToken).ConfigureAwait(false);
        return new SearchResponse(request.Query, mode.ToString().ToLowerInvariant(),
            hits.Select(h => new SearchResultItem(h.DocumentId, h.Title, h.Text, h.ChunkIndex, h.Start, h.End, h.Score, h.Similarity, h.Metadata)).ToList());
    }

    /// <summary>exact | funnel | ann | hybrid (case-insensitive); null means exact.</summary>
    public static SearchMode ParseMode(string? mode) => mode?.ToLowerInvariant() switch
    {
        null or "" or "exact" => SearchMode.Exact,
        "funnel" => SearchMode.Funnel,
        "ann" => SearchMode.Ann,
        "hybrid" => SearchMode.Hybrid,
        _ => throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Unknown search mode '{mode}': expected exact, funnel, ann or hybrid."),
    };
}
