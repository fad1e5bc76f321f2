using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Evaluation;
using EmbeddingGemma.Evaluation.Models;
using EmbeddingGemma.Evaluation.Reports;
using EmbeddingGemma.Evaluation.Tasks;
using EmbeddingGemma.Training;
using EmbeddingGemma.Training.Data;
using EmbeddingGemma.Training.Optimization;
using Spectre.Console;

namespace EmbeddingGemma.Cli.Commands;

/// <summary>
/// <c>embeddinggemma train --model M --train FILE --out DIR [...]</c>: fine-tunes and writes a sentence-transformers
/// folder (+ model.gguf), train_log.jsonl, checkpoints/ and (with --eval) eval.json into DIR (README "Fine-tuning").
/// </summary>
internal static class TrainCommand
{
    private static readonly Option<string> Model = new("--model") { Description = "Model folder or .gguf file to fine-tune (EmbeddingGemma v1).", Required = true };

    /// <summary>How long Ctrl+C / SIGTERM waits for the checkpoint (System.CommandLine's default of 2 s could cut a large one).</summary>
    public static readonly TimeSpan CheckpointOnCancelTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Ctrl+C saves a checkpoint before the process ends: System.CommandLine's 2 s termination timeout must not cut it.</summary>
    public static bool HandlesTermination(ParseResult parse) => parse?.CommandResult.Command.Name == "train";

    public static Command Create()
    {
        var train = new Option<string>("--train") { Description = "Training data: .json (the article's finetuning_data.json), .jsonl, .csv or .tsv with sentence-transformers columns, optionally .gz.", Required = true };
        var eval = new Option<string?>("--eval") { Description = "Evaluate before and after: a held-out file in a training format, or evaluation tasks as `eval --tasks` takes them." };
        var output = new Option<string>("--out") { Description = "Output folder: the trained sentence-transformers model, model.gguf, train_log.jsonl, checkpoints/, eval.json.", Required = true };
        var loss = new Option<string?>("--loss") { Description = "cosine, cosine-triplet, mnrl, cached-mnrl, cosent, triplet, auto (default), or per kind: similarity=cosent,pair=mnrl,triplet=mnrl." };
        var matryoshka = new Option<string?>("--matryoshka") { Description = "Matryoshka dimensions wrapping the loss, e.g. 768,512,256,128, or none (default)." };
        var epochs = new Option<int?>("--epochs") { Description = "Epochs (default 1)." };
        var maxSteps = new Option<int?>("--max-steps") { Description = "Stop after this many optimizer steps (epochs repeat as needed)." };
        var batch = new Option<int?>("--batch-size") { Description = "Rows per batch (default 32)." };
        var miniBatch = new Option<int?>("--mini-batch") { Description = "cached-mnrl: sequences per backward chunk (default 32)." };
        var maxLive = new Option<int?>("--max-live-tokens") { Description = "Other losses: tokens per backward chunk (default 8192)." };
        var maxSeq = new Option<int?>("--max-seq-length") { Description = "Tokens per text incl. prompt and specials (default: the model's limit)." };
        var lr = new Option<double?>("--lr") { Description = "Peak learning rate (default 2e-5)." };
        var wd = new Option<double?>("--weight-decay") { Description = "AdamW weight decay (default 0.01; norm weights excluded unless --decay-norms)." };
        var decayNorms = new Option<bool>("--decay-norms") { Description = "Decay norm weights too (as a bare torch AdamW)." };
        var scheduler = new Option<string?>("--scheduler") { Description = "linear (default), cosine or constant." };
        var warmup = new Option<double?>("--warmup-ratio") { Description = "Warmup steps as a fraction of all steps (default 0.1)." };
        var clip = new Option<string?>("--max-grad-norm") { Description = "Clip the global gradient norm (default 1.0; none: no clipping)." };
        var trainEmb = new Option<bool>("--train-embeddings") { Description = "Train the token embedding table too (default: frozen)." };
        var freeze = new Option<string?>("--freeze-layers") { Description = "Layers to keep frozen, e.g. 0-5,8." };
        var loraRank = new Option<int?>("--lora-rank") { Description = "Train LoRA adapters of this rank instead of the weights (merged into the weights when saved)." };
        var loraAlpha = new Option<double?>("--lora-alpha") { Description = "LoRA alpha (default 2 x rank)." };
        var loraTargets = new Option<string?>("--lora-targets") { Description = "LoRA targets: q,k,v,o,gate,up,down (default all)." };
        var prompt = new Option<string[]>("--prompt") { Description = "COLUMN=PROMPT (repeatable; columns text1, text2, anchor, positive, negative or *): a task name, a model prompt name, none, or literal text.", AllowMultipleArgumentsPerToken = false };
        var preset = new Option<string?>("--preset") { Description = "article: the article's settings exactly (AdamW lr 1e-5, wd 0.01 on every tensor, constant lr, no clipping, batch 2, 3 epochs, cosine/triplet losses by type, log every 10 batches); flags given override it." };
        var resume = new Option<string?>("--resume") { Description = "Continue from a checkpoint (a checkpoint folder, or a previous --out): bit-identical to an uninterrupted run." };
        var seed = new Option<int?>("--seed") { Description = "Seed of the data order and LoRA init (default 42)." };
        var threads = CliOptions.Threads();
        var json = new Option<bool>("--json") { Description = "Print a JSON summary on stdout (the log lines then go to stderr)." };
        var logEvery = new Option<int?>("--log-every") { Description = "Print the article's line every N batches (default 10)." };
        var saveEvery = new Option<int?>("--save-every") { Description = "Write a checkpoint every N steps (default 0: at the end and on Ctrl+C)." };
        var gguf = new Option<string?>("--output-gguf") { Description = "Type of DIR/model.gguf: f32 (default), f16, bf16, q8_0, q4_0, mixed or none." };
        var dataDir = new Option<string?>("--data-dir") { Description = "Data root for built-in --eval tasks (as eval --data-dir)." };
        var cmd = new Command("train", "Fine-tune on pairs and triplets (exact gradients; MNRL, CoSENT, cosine, triplet, Matryoshka, LoRA) and write a sentence-transformers folder and GGUF.");
        foreach (var o in new Option[] { Model, train, eval, output, loss, matryoshka, epochs, maxSteps, batch, miniBatch, maxLive, maxSeq, lr, wd, decayNorms, scheduler, warmup, clip,
            trainEmb, freeze, loraRank, loraAlpha, loraTargets, prompt, preset, resume, seed, threads, json, logEvery, saveEvery, gguf, dataDir })
        {
            cmd.Options.Add(o);
        }
        cmd.SetAction(async (ParseResult p, CancellationToken ct) =>
        {
            var o = p.GetValue(preset) switch
            {
                null => new TrainerOptions(),
                var s when s.Equals("article", StringComparison.OrdinalIgnoreCase) => TrainerOptions.Article,
                var s => throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--preset '{s}': unknown preset (article)."),
            };
            var outDir = p.GetValue(output)!;
            CliFiles.CheckOutputPath(outDir, folder: true, "--out");
            var ggufType = Trainer.CheckGgufType(p.GetValue(gguf) ?? "f32");
            o = o with
            {
                Loss = p.GetValue(loss) ?? o.Loss,
                MatryoshkaDimensions = p.GetValue(matryoshka) is { } m ? ParseMatryoshka(m) : o.MatryoshkaDimensions,
                Epochs = p.GetValue(epochs) ?? o.Epochs,
                MaxSteps = p.GetValue(maxSteps) ?? o.MaxSteps,
                BatchSize = p.GetValue(batch) ?? o.BatchSize,
                MiniBatch = p.GetValue(miniBatch) ?? o.MiniBatch,
                MaxLiveTokens = p.GetValue(maxLive) ?? o.MaxLiveTokens,
                MaxSeqLength = p.GetValue(maxSeq) ?? o.MaxSeqLength,
                LearningRate = p.GetValue(lr) ?? o.LearningRate,
                WeightDecay = p.GetValue(wd) ?? o.WeightDecay,
                DecayNorms = p.GetValue(decayNorms) || o.DecayNorms,
                Scheduler = p.GetValue(scheduler) is { } sch ? ParseScheduler(sch) : o.Scheduler,
                WarmupRatio = p.GetValue(warmup) ?? o.WarmupRatio,
                MaxGradNorm = p.GetValue(clip) is { } c ? ParseClip(c) : o.MaxGradNorm,
                TrainEmbeddings = p.GetValue(trainEmb) || o.TrainEmbeddings && p.GetValue(loraRank) is null,
                FrozenLayers = p.GetValue(freeze) is { } f ? ParseLayers(f) : o.FrozenLayers,
                LoraRank = p.GetValue(loraRank) ?? o.LoraRank,
                LoraAlpha = p.GetValue(loraAlpha) ?? o.LoraAlpha,
                LoraTargets = p.GetValue(loraTargets) is { } lt ? lt.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : o.LoraTargets,
                Prompts = ColumnPrompts.Parse(p.GetValue(prompt) ?? [], o.Prompts),
                Seed = p.GetValue(seed) ?? o.Seed,
                Threads = p.GetValue(threads),
                LogEvery = p.GetValue(logEvery) ?? o.LogEvery,
                SaveEvery = p.GetValue(saveEvery) ?? o.SaveEvery,
                CheckpointDirectory = Path.Combine(outDir, "checkpoints"),
                ResumeFrom = p.GetValue(resume),
            };
            var data = TrainingDataLoader.Load(p.GetValue(train)!);
            var jsonOut = p.GetValue(json);
            var lines = jsonOut ? Console.Error : Console.Out;
            Directory.CreateDirectory(outDir);
            var modelArg = p.GetValue(Model)!;
            // a hub id or Ollama name resolves (and downloads) as for every other command
            var modelPath = File.Exists(modelArg) || Directory.Exists(modelArg) ? modelArg : DownloadCommand.ResolveModelWithProgress(modelArg, ct);
            using var trainer = Trainer.Load(modelPath, o);
            var evalSpec = p.GetValue(eval);
            var dims = EvalDimensions(o.MatryoshkaDimensions, trainer.BaseModel.Dimensions);
            var logPath = Path.Combine(outDir, "train_log.jsonl");
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"train: {data.Sum(d => d.Rows.Count)} rows ({string.Join(", ", data.Select(d => $"{d.Rows.Count} {TrainingDataset.KindName(d.Kind)}"))}), " +
                $"{trainer.OptimizedTensors.Sum(t => (long)t.Values.Length):N0} trainable parameters{(o.LoraRank > 0 ? $" (LoRA r={o.LoraRank})" : "")}, encoder {trainer.Encoder.GetType().Name}")).ConfigureAwait(false);
            TrainingResult result;
            using var cancelNote = ct.Register(() => Console.Error.WriteLine($"cancelling: a checkpoint of the last completed step goes to {Path.GetFullPath(o.CheckpointDirectory!)}"));
            using (var log = new StreamWriter(logPath, append: true))
            {
                var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
                void Report(TrainingProgress x)
                {
                    log.WriteLine(JsonSerializer.Serialize(x.EpochCompleted
                        ? new Dictionary<string, object> { ["event"] = "epoch", ["epoch"] = x.Epoch, ["step"] = x.Step, ["average_loss"] = x.AverageLoss }
                        : new Dictionary<string, object>
                        {
                            ["event"] = "step", ["step"] = x.Step, ["epoch"] = x.Epoch, ["batch"] = x.Batch, ["kind"] = x.Kind, ["loss_name"] = x.LossName,
                            ["loss"] = x.Loss, ["lr"] = x.LearningRate, ["grad_norm"] = x.GradNorm, ["tokens"] = x.Tokens,
                            ["tokens_per_second"] = Math.Round(x.TokensPerSecond, 2), ["elapsed_s"] = Math.Round(x.Elapsed.TotalSeconds, 3),
                        }));
                    log.Flush();
                    if (x.EpochCompleted || x.IsLogLine)
                    {
                        lines.WriteLine(x.ArticleLine);
                    }
                }
                if (console.Profile.Capabilities.Interactive)
                {
                    TrainingResult? r = null;
                    console.Progress().AutoClear(true)
                        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                        .Start(ctx =>
                        {
                            var task = ctx.AddTask("training", maxValue: 1);
                            r = trainer.Train(data, new SyncProgress(x =>
                            {
                                Report(x);
                                task.MaxValue = x.TotalSteps;
                                task.Value = x.Step;
                                task.Description = string.Create(CultureInfo.InvariantCulture, $"step {x.Step}/{x.TotalSteps} loss {x.Loss:F4} {x.TokensPerSecond:F0} tok/s ETA {x.Eta:hh\\:mm\\:ss}");
                            }), ct);
                        });
                    result = r!;
                }
                else
                {
                    result = trainer.Train(data, new SyncProgress(x =>
                    {
                        Report(x);
                        if (!x.EpochCompleted && x.IsLogLine)
                        {
                            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                                $"step {x.Step}/{x.TotalSteps}, {x.TokensPerSecond:F0} tokens/s, lr {x.LearningRate:G4}, ETA {x.Eta:hh\\:mm\\:ss}"));
                        }
                    }), ct);
                }
            }
            // The encoder let go of its activation buffers when training ended: return them before saving and evaluating
            // (a full-size step holds gigabytes of them), so those phases reuse the memory instead of adding to it.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            var ggufPath = trainer.Save(outDir, ggufType);
            var summary = new JsonObject
            {
                ["out"] = Path.GetFullPath(outDir),
                ["gguf"] = ggufPath is null ? null : Path.GetFullPath(ggufPath),
                ["steps"] = result.Steps,
                ["total_steps"] = result.TotalSteps,
                ["epochs"] = result.Epochs,
                ["last_loss"] = double.IsFinite(result.LastLoss) ? result.LastLoss : null,
                ["epoch_average_losses"] = new JsonArray(result.EpochAverageLosses.Select(x => (JsonNode)x).ToArray()),
                ["tokens"] = result.Tokens,
                ["seconds"] = Math.Round(result.Elapsed.TotalSeconds, 3),
            };
            if (!string.IsNullOrWhiteSpace(evalSpec))
            {
                using var after = trainer.CreateModel();
                var report = await EvaluateAsync(evalSpec, trainer, after, dims, o, p.GetValue(dataDir), ct).ConfigureAwait(false);
                await File.WriteAllTextAsync(Path.Combine(outDir, "eval.json"), report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }), ct).ConfigureAwait(false);
                summary["eval"] = report;
            }
            if (jsonOut)
            {
                Console.Out.WriteLine(summary.ToJsonString());
            }
            else
            {
                await Console.Error.WriteLineAsync($"saved: {Path.GetFullPath(outDir)}{(ggufPath is null ? "" : $" and {ggufPath}")}").ConfigureAwait(false);
            }
            return ExitCodes.Ok;
        });
        return cmd;
    }

    private static async Task<JsonObject> EvaluateAsync(string spec, Trainer trainer, EmbeddingGemmaModel after, IReadOnlyList<int> dims, TrainerOptions o, string? dataDir,
        CancellationToken ct)
    {
        var rows = new JsonArray();
        if (File.Exists(spec))
        {
            var data = TrainingDataLoader.Load(spec);
            var before = TrainingEvaluation.Evaluate(trainer.BaseModel, data, dims, o.Prompts, o.MaxSeqLength, ct);
            var trained = TrainingEvaluation.Evaluate(after, data, dims, o.Prompts, o.MaxSeqLength, ct);
            for (var i = 0; i < before.Count; i++)
            {
                rows.Add(Row(before[i].Dataset, before[i].Metric, before[i].Dimensions, before[i].Score, trained[i].Score));
            }
        }
        else
        {
            var root = dataDir ?? BuiltinTasks.FindDefaultDataRoot();
            var tasks = BuiltinTasks.Resolve(spec, root);
            var report = await EvaluationRunner.RunAsync(
                [EvalModel.FromGenerator("before", new EmbeddingGemmaGenerator(trainer.BaseModel)), EvalModel.FromGenerator("after", new EmbeddingGemmaGenerator(after))],
                tasks, dims, root, o.Seed, 32, null, null, ct).ConfigureAwait(false);
            var b = report.Models[0];
            var a = report.Models[1];
            for (var t = 0; t < b.Tasks.Count; t++)
            {
                foreach (var s in b.Tasks[t].Scores)
                {
                    var sa = a.Tasks[t].Scores.First(x => x.Dimensions == s.Dimensions);
                    rows.Add(Row(b.Tasks[t].Task, b.Tasks[t].MainMetric, s.Dimensions ?? 0, s.MainScore, sa.MainScore));
                }
            }
        }
        await Console.Error.WriteLineAsync("evaluation (before -> after):").ConfigureAwait(false);
        foreach (var r in rows)
        {
            await Console.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  {r!["task"]} {r["metric"]} @{r["dimensions"]}: {(double)r["before"]!:F4} -> {(double)r["after"]!:F4}")).ConfigureAwait(false);
        }
        return new JsonObject { ["dimensions"] = new JsonArray(dims.Select(d => (JsonNode)d).ToArray()), ["scores"] = rows };

        static JsonObject Row(string task, string metric, int d, double before, double afterScore) => new()
        {
            ["task"] = task, ["metric"] = metric, ["dimensions"] = d, ["before"] = before, ["after"] = afterScore,
        };
    }

    internal static IReadOnlyList<int> EvalDimensions(IReadOnlyList<int>? matryoshka, int dim)
    {
        if (matryoshka is { Count: > 0 })
        {
            return matryoshka;
        }
        var std = EvaluationRunner.DefaultDimensions.Where(d => d <= dim).ToList();
        return std.Count > 0 && std[0] == dim ? std : [dim, .. std];
    }

    internal static IReadOnlyList<int>? ParseMatryoshka(string text)
    {
        if (text.Trim().Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        return text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s =>
            int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var d) && d > 0 ? d
                : throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--matryoshka: '{s}' is not a positive integer (give e.g. 768,512,256,128 or none).")).ToArray();
    }

    private static ScheduleKind ParseScheduler(string s) => s.Trim().ToLowerInvariant() switch
    {
        "linear" => ScheduleKind.Linear,
        "cosine" => ScheduleKind.Cosine,
        "constant" => ScheduleKind.Constant,
        _ => throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--scheduler '{s}': expected linear, cosine or constant."),
    };

    private static double? ParseClip(string s)
    {
        if (s.Trim() is "none" or "0")
        {
            return null;
        }
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v > 0 && double.IsFinite(v) ? v
            : throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--max-grad-norm '{s}': expected a positive number or none.");
    }

    internal static int[] ParseLayers(string s)
    {
        var result = new SortedSet<int>();
        foreach (var part in s.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var dash = part.IndexOf('-', 1);
            bool ok;
            int a, b;
            if (dash > 0)
            {
                ok = int.TryParse(part[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out a) & int.TryParse(part[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out b) && a <= b;
            }
            else
            {
                ok = int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out a);
                b = a;
            }
            if (!ok)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--freeze-layers: '{part}' is not a layer or a range like 0-5.");
            }
            for (var l = a; l <= b; l++)
            {
                result.Add(l);
            }
        }
        return [.. result];
    }

    /// <summary>Reports on the calling thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SyncProgress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
