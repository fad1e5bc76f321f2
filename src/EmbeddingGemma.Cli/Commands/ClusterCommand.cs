using System.CommandLine;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using EmbeddingGemma.Search;
using EmbeddingGemma.Search.Clustering;
using EmbeddingGemma.Search.Index;

namespace EmbeddingGemma.Cli.Commands;

/// <summary><c>embeddinggemma cluster --model M --input FILE --k K [--plot clusters.png] [--labels FILE]</c>.</summary>
internal static class ClusterCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model: a folder, .gguf or hub id; 'hash' or 'hash:DIM' for the model-free bag-of-words embedder.", Required = true };
        var input = new Option<string>("--input") { Description = "Texts: one per line (.txt) or a .jsonl with a 'text' field.", Required = true };
        var k = new Option<int>("--k") { Description = "Number of clusters.", Required = true };
        var plot = new Option<string?>("--plot") { Description = "Write a PNG scatter plot (PCA 2-D) here." };
        var labels = new Option<string?>("--labels") { Description = "Reference labels, one per line (any strings): prints V-measure and adjusted Rand index." };
        var seed = new Option<int>("--seed") { Description = "Random seed of k-means++.", DefaultValueFactory = _ => 42 };
        var json = new Option<bool>("--json") { Description = "JSON on stdout." };
        var command = new Command("cluster", "Cluster texts: spherical k-means on embeddings (clustering prompt), PCA to 2-D, silhouette, optional plot.");
        var threads = CliOptions.Threads();
        foreach (var o in new Option[] { model, input, k, plot, labels, seed, json, threads })
        {
            command.Options.Add(o);
        }
        command.SetAction(async (ParseResult p, CancellationToken ct) =>
        {
            var path = p.GetValue(input)!;
            var texts = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
                ? DocumentReader.ReadJsonLines(path).Select(d => d.Text).ToList()
                : ReadLines(path);
            int clusters = p.GetValue(k);
            if (clusters < 1 || clusters > texts.Count)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--k must be in 1..{texts.Count} (the number of texts), got {clusters}.");
            }
            int[]? truth = null;
            if (p.GetValue(labels) is string labelFile)
            {
                var names = ReadLines(labelFile);
                if (names.Count != texts.Count)
                {
                    throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{labelFile} has {names.Count} labels for {texts.Count} texts.") { FilePath = labelFile };
                }
                var ids = new Dictionary<string, int>(StringComparer.Ordinal);
                truth = names.Select(n => ids.TryGetValue(n, out int id) ? id : ids[n] = ids.Count).ToArray();
            }
            using var resolved = EmbeddingGeneratorFactory.Create(p.GetValue(model)!, CliModels.LoadOptions(p.GetValue(threads)));
            var result = await new TextClusterer(resolved.Generator, clusters, p.GetValue(seed)).ClusterAsync(texts, ct).ConfigureAwait(false);
            double? ari = truth is null ? null : ClusterMetrics.AdjustedRandIndex(truth, result.Labels);
            double? vm = truth is null ? null : ClusterMetrics.VMeasure(truth, result.Labels).VMeasure;
            PlotOutcome? outcome = null;
            if (p.GetValue(plot) is string png)
            {
                outcome = ClusterPlot.SavePng(png, result.Points2D, result.Labels, texts);
                if (outcome.LabelsReplacedByIndex)
                {
                    await Console.Error.WriteLineAsync($"note: no CJK font found (set {ClusterPlot.FontEnvironmentVariable} to a .ttf/.otf/.ttc file); points are labelled by number.").ConfigureAwait(false);
                }
            }
            if (p.GetValue(json))
            {
                var o = new
                {
                    k = clusters,
                    labels = result.Labels,
                    points = result.Points2D,
                    silhouette = result.Silhouette,
                    v_measure = vm,
                    adjusted_rand_index = ari,
                    plot = outcome?.Path,
                };
                Console.WriteLine(JsonSerializer.Serialize(o, new JsonSerializerOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
                return ExitCodes.Ok;
            }
            for (int i = 0; i < texts.Count; i++)
            {
                Console.WriteLine($"text {i} (cluster {result.Labels[i]}): {texts[i]}");
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"silhouette (cosine): {result.Silhouette:F4}"));
            if (truth is not null)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"V-measure: {vm:F4}  adjusted Rand index: {ari:F4}"));
            }
            if (outcome is not null)
            {
                Console.WriteLine($"plot: {outcome.Path}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static List<string> ReadLines(string path)
    {
        if (!File.Exists(path))
        {
            throw new EmbeddingGemmaException(ErrorKind.NotFound, $"File not found: {path}.") { FilePath = path };
        }
        return File.ReadAllLines(path).Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
    }
}
