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
        var model = new Option<string?>("--model") { Description = "Model to embed the query: the one the index was built with (checked by its fingerprint)." };
        var trust = new Option<bool>("--trust-index-model")
        {
            Description = "Without --model, load the model named in the index file (a path or hub id: it may download or open anything the file says). Only for index files you trust.",
        };
        var filter = new Option<string[]>("--filter") { Description = "Metadata filter key=value (repeatable; all must match).", AllowMultipleArgumentsPerToken = false };
        var int8 = new Option<bool>("--int8") { Description = "Hold vectors as int8 in memory; rescore candidates at full precision." };
        var oversample = new Option<int>("--oversample") { Description = "Binary indexes: Hamming candidates per result (top-k x N) rescored with the float query against the stored int8 vectors.", DefaultValueFactory = _ => 4 };
        var command = new Command("search", "Search a semantic index.");
        var threads = CliOptions.Threads();
        foreach (var o in new Option[] { db, query, topK, threshold, mode, json, model, trust, filter, int8, oversample, threads })
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
            if (p.GetValue(oversample) < 1)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--oversample must be at least 1, got {p.GetValue(oversample)}.");
            }
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
            SemanticIndex.ValidateFilter(filters);
            // search only reads: the file must exist and be an index (nothing is created or written).
            using var index = SemanticIndex.Open(p.GetValue(db)!, new SemanticIndexOptions
            {
                ReadOnly = true,
                Storage = p.GetValue(int8) ? VectorStorage.Int8 : VectorStorage.Float32,
                Warning = CliWarnings.Write,
            });
            var spec = p.GetValue(model) ?? StoredSpec(index, p.GetValue(trust));
            using var resolved = EmbeddingGeneratorFactory.Create(spec, CliModels.LoadOptions(p.GetValue(threads)));
            var engine = new SemanticSearchEngine(index, resolved.Generator, new SemanticSearchEngineOptions
            {
                ModelSpec = resolved.ModelSpec,
                Dimensions = index.Dimension,
                Warning = CliWarnings.Write,
            });
            var hits = await engine.SearchAsync(q, new SearchOptions
            {
                TopK = k,
                Threshold = p.GetValue(threshold),
                Mode = searchMode,
                Filter = filters.Count == 0 ? null : filters,
                Oversample = p.GetValue(oversample),
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

    /// <summary>
    /// The model spec stored in the index, used only when the user trusts the file (--trust-index-model) or when it
    /// loads nothing (the model-free <c>hash</c> / <c>hash:DIM</c>): an index file may come from anywhere, and its spec
    /// may name any local path or hub repository.
    /// </summary>
    private static string StoredSpec(SemanticIndex index, bool trusted)
    {
        var stored = index.ModelSpec
            ?? throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{index.Path} does not record its model (empty index?); pass --model <spec>.");
        bool loadsNothing = stored == "hash" || (stored.StartsWith("hash:", StringComparison.Ordinal) && stored.Length > 5 && stored[5..].All(char.IsAsciiDigit));
        if (trusted || loadsNothing)
        {
            return stored;
        }
        throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
            $"{index.Path} was built with model '{stored}'. search does not load a model named by an index file on its own (it could open or download anything): " +
            $"pass --model {stored} to use it (or --trust-index-model if you trust this file).");
    }
}
