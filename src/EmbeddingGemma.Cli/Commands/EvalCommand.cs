using System.CommandLine;
using System.Globalization;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Evaluation;
using EmbeddingGemma.Evaluation.Models;
using EmbeddingGemma.Evaluation.Reports;
using EmbeddingGemma.Evaluation.Tasks;

namespace EmbeddingGemma.Cli.Commands;

/// <summary><c>embeddinggemma eval</c>: MTEB-style evaluation of one or several models (docs/evaluation.md).</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var command = new Command("eval", "MTEB-style evaluation (retrieval, STS, classification, clustering, pair classification, reranking) per Matryoshka size; several --model values are compared with retention %.");
        var models = new Option<string[]>("--model")
        {
            Description = "Model to evaluate (repeatable): a model folder or .gguf file, or a baseline: bm25, bm25-plain, bm25-multifield, bow[:DIMS], random[:DIMS].",
            AllowMultipleArgumentsPerToken = true,
        };
        var tasks = new Option<string>("--tasks")
        {
            Description = "Comma-separated: all, a task type (retrieval, sts, classification, clustering, pairclassification, reranking), built-in names (--list-tasks), BEIR folder paths, or sts:FILE, pairs:FILE, clustering:FILE, classification:FOLDER.",
        };
        var dimensions = new Option<string>("--dimensions") { Description = "Matryoshka sizes, comma-separated.", DefaultValueFactory = _ => "768,512,256,128" };
        var output = new Option<string?>("--out") { Description = "Write the JSON report to this file ('-' = stdout)." };
        var plotPath = new Option<string?>("--plot") { Description = "Write a PNG plot of score vs dimension to this file." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Data root for built-in tasks (default: $EMBEDDINGGEMMA_EVAL_DATA or the nearest data/eval; use shared/data for the full sets)." };
        var seed = new Option<int>("--seed") { Description = "Seed for few-shot sampling, k-means and chance levels.", DefaultValueFactory = _ => 42 };
        var batch = new Option<int>("--batch-size") { Description = "Texts per embedding call.", DefaultValueFactory = _ => 32 };
        var list = new Option<bool>("--list-tasks") { Description = "List the built-in tasks and exit." };
        var shuffle = new Option<bool>("--shuffle-labels") { Description = "Control run: permute every task's gold labels (seeded, distribution kept); any model must then score at chance, which checks that nothing leaks labels." };
        var threads = CliOptions.Threads();
        foreach (var o in new Option[] { models, tasks, dimensions, output, plotPath, dataDir, seed, batch, list, shuffle, threads })
        {
            command.Options.Add(o);
        }

        command.SetAction(async (ParseResult p, CancellationToken ct) =>
        {
            var root = p.GetValue(dataDir) ?? BuiltinTasks.FindDefaultDataRoot();
            if (p.GetValue(list))
            {
                foreach (var name in BuiltinTasks.Names)
                {
                    var t = BuiltinTasks.Create(name, root ?? ".");
                    Console.WriteLine($"{name,-28} {t.Type,-18} {t.MainMetric,-16} {string.Join(",", t.Languages)}");
                }
                return ExitCodes.Ok;
            }
            var modelSpecs = p.GetValue(models) ?? [];
            var taskSpec = p.GetValue(tasks);
            if (modelSpecs.Length == 0 || string.IsNullOrWhiteSpace(taskSpec))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "eval needs --model and --tasks (see --help).");
            }
            var dims = ParseDimensions(p.GetValue(dimensions)!);
            var resolvedTasks = BuiltinTasks.Resolve(taskSpec, root);
            var evalModels = DistinctNames(modelSpecs.Select(s => ResolveModel(s, p.GetValue(threads))).ToList());
            var shuffled = p.GetValue(shuffle);
            await Console.Error.WriteLineAsync($"eval: {evalModels.Count} model(s), {resolvedTasks.Count} task(s), sizes {string.Join(",", dims)}, data {root ?? "(none)"}{(shuffled ? "; LABELS SHUFFLED (control run: expect chance)" : "")}").ConfigureAwait(false);
            var report = await EvaluationRunner.RunAsync(evalModels, resolvedTasks, dims, root, p.GetValue(seed), p.GetValue(batch),
                line => Console.Error.WriteLine(line), null, ct, shuffled).ConfigureAwait(false);
            await Console.Error.WriteLineAsync().ConfigureAwait(false);
            await Console.Error.WriteAsync(ReportTable.Render(report)).ConfigureAwait(false);
            var outPath = p.GetValue(output);
            if (outPath == "-")
            {
                Console.WriteLine(report.ToJson());
            }
            else if (!string.IsNullOrEmpty(outPath))
            {
                await File.WriteAllTextAsync(outPath, report.ToJson(), ct).ConfigureAwait(false);
                await Console.Error.WriteLineAsync($"report: {outPath}").ConfigureAwait(false);
            }
            var png = p.GetValue(plotPath);
            if (!string.IsNullOrEmpty(png))
            {
                ScorePlot.Save(report, png);
                await Console.Error.WriteLineAsync($"plot: {png}").ConfigureAwait(false);
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static int[] ParseDimensions(string text)
    {
        var dims = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var d) || d < 1)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--dimensions: '{part}' is not a positive integer.");
            }
            dims.Add(d);
        }
        return dims.Count > 0 ? [.. dims] : throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "--dimensions is empty.");
    }

    /// <summary>
    /// Models whose names collide (two folders both called <c>tiny</c>, say v1 and v2) are told apart in the report: by
    /// their architecture when it differs (<c>tiny [embeddinggemma2]</c>), else by their position (<c>tiny #2</c>).
    /// </summary>
    internal static List<EvalModel> DistinctNames(List<EvalModel> models)
    {
        var result = new List<EvalModel>(models.Count);
        for (var i = 0; i < models.Count; i++)
        {
            var m = models[i];
            var same = models.Where(o => o.Name == m.Name).ToList();
            if (same.Count == 1 || m.Generator is null)
            {
                result.Add(m);
                continue;
            }
            var name = m.Architecture is { } a && same.Count(o => o.Architecture == a) == 1 ? $"{m.Name} [{a}]" : $"{m.Name} #{i + 1}";
            result.Add(EvalModel.FromGenerator(name, m.Generator));
        }
        return result;
    }

    internal static EvalModel ResolveModel(string spec, int threads = 0)
    {
        if (BaselineModels.TryCreate(spec, out var baseline))
        {
            return baseline!;
        }
        // A model folder, a .gguf file (or a hub id when a hub resolver is configured): EmbeddingGemmaModel.Load
        // reports a missing or malformed model with a clear error.
        var model = EmbeddingGemmaModel.Load(spec, CliModels.LoadOptions(threads));
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(spec));
        return EvalModel.FromGenerator(string.IsNullOrEmpty(name) ? spec : name, new EmbeddingGemmaGenerator(model, ownsModel: true));
    }
}
