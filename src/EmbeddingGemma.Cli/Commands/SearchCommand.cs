using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using EmbeddingGemma.Search;
using EmbeddingGemma.Search.Index;

namespace EmbeddingGemma.Cli.Commands;

/// <summary><c>embeddinggemma search --db FILE --query TEXT [--top-k K] [--threshold T] [--mode exact|funnel|ann|hybrid] [--json]</c>.</summary>
internal static class SearchCommand
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var db = new Option<string>("--db") { Description = "Index file made by 'index'.", Required = true };
        var query = new Option<string>("--query") { Description = "The query text (embedded with the query prompt).", Required = true };
        var topK = new Option<int>("--top-k") { Description = "Number of results.", DefaultValueFactory = _ => 5 };
        var threshold = new Option<float?>("--threshold") { Description = "Minimum cosine similarity." };
        var mode = new Option<string>("--mode") { Description = "exact | funnel | ann | hybrid.", DefaultValueFactory = _ => "exact" };
        var json = new Option<bool>("--json") { Description = "JSON on stdout." };
        var model = new Option<string?>("--model") { Description = "Model to embed the query (default: the one the index was built with)." };
        var filter = new Option<string[]>("--filter") { Description = "Metadata filter key=value (repeatable; all must match).", AllowMultipleArgumentsPerToken = false };
        var int8 = new Option<bool>("--int8") { Description = "Hold vectors as int8 in memory; rescore candidates at full precision." };
        var command = new Command("search", "Search a semantic index.");
        var threads = CliOptions.Threads();
        foreach (var o in new Option[] { db, query, topK, threshold, mode, json, model, filter, int8, threads })
        {
            command.Options.Add(o);
        }
        command.SetAction(async (ParseResult p, CancellationToken ct) =>
        {
            var q = p.GetValue(query);
            if (string.IsNullOrWhiteSpace(q))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "--query is empty.");
            }
            int k = p.GetValue(topK);
            if (k <= 0)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--top-k must be at least 1, got {k}.");
            }
            var searchMode = SearchService.ParseMode(p.GetValue(mode));
            var filters = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var f in p.GetValue(filter) ?? [])
            {
                int eq = f.IndexOf('=', StringComparison.Ordinal);
                if (eq <= 0)
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--filter {f}: expected key=value.");
                }
                filters[f[..eq]] = f[(eq + 1)..];
            }
            using var index = SemanticIndex.Open(p.GetValue(db)!, new SemanticIndexOptions
            {
                Storage = p.GetValue(int8) ? VectorStorage.Int8 : VectorStorage.Float32,
            });
            var spec = p.GetValue(model) ?? index.GetInfo().ModelSpec
                ?? throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{index.Path} does not record its model (empty index?); pass --model.");
            using var resolved = EmbeddingGeneratorFactory.Create(spec, CliModels.LoadOptions(p.GetValue(threads)));
            var engine = new SemanticSearchEngine(index, resolved.Generator, new SemanticSearchEngineOptions { ModelSpec = resolved.ModelSpec, Dimensions = index.Dimension });
            var hits = await engine.SearchAsync(q, new SearchOptions
            {
                TopK = k,
                Threshold = p.GetValue(threshold),
                Mode = searchMode,
                Filter = filters.Count == 0 ? null : filters,
            }, ct).ConfigureAwait(false);
            if (p.GetValue(json))
            {
                var response = new SearchResponse(q, searchMode.ToString().ToLowerInvariant(),
                    hits.Select(h => new SearchResultItem(h.DocumentId, h.Title, h.Text, h.ChunkIndex, h.Start, h.End, h.Score, h.Similarity, h.Metadata)).ToList());
                Console.WriteLine(JsonSerializer.Serialize(response, Json));
                return ExitCodes.Ok;
            }
            Console.WriteLine($"query: {q}");
            int i = 0;
            foreach (var h in hits)
            {
                i++;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{i}. score {h.Score:F4}  {h.DocumentId}{(h.Title is null ? "" : "  " + h.Title)}  [chunk {h.ChunkIndex}, chars {h.Start}..{h.End}]"));
                var text = h.Text.ReplaceLineEndings(" ");
                Console.WriteLine("   " + (text.Length > 200 ? text[..200] + "…" : text));
            }
            if (hits.Count == 0)
            {
                Console.WriteLine("no results");
            }
            return ExitCodes.Ok;
        });
        return command;
    }
}
