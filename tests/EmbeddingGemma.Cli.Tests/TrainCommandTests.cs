using System.Diagnostics;
using System.Text.Json;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Cli.Tests;

/// <summary><c>embeddinggemma train</c> as a real process on a tiny random model: the article preset end to end, resume, outputs and errors.</summary>
public sealed class TrainCommandTests
{
    private const string ArticleData = """
        [
          {"type": "similarity", "text1": "machine learning algorithm", "text2": "AI learning model", "similarity": 0.85},
          {"type": "similarity", "text1": "apple fruit", "text2": "iPhone phone", "similarity": 0.15},
          {"type": "triplet", "anchor": "deep learning framework", "positive": "TensorFlow and PyTorch", "negative": "Java programming language"},
          {"type": "similarity", "text1": "a cat sits", "text2": "a kitten is sitting", "similarity": 0.9},
          {"type": "triplet", "anchor": "weather today", "positive": "sunny and warm", "negative": "stock market news"}
        ]
        """;

    private static TinyModel Model => TinyModels.Get("cli-train", c => c with
    {
        HiddenSize = 32, IntermediateSize = 48, NumHiddenLayers = 2, NumAttentionHeads = 2, NumKeyValueHeads = 1, HeadDim = 16, QueryPreAttnScalar = 16,
        SlidingWindow = 8, SlidingWindowPattern = 2, LayerTypes = null,
    }, seed: 9);

    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "EmbeddingGemma.Cli.dll"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var outTask = p.StandardOutput.ReadToEndAsync();
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, outTask.Result, err);
    }

    private static string DataFile(string text, string name = "finetuning_data.json")
    {
        var path = Path.Combine(TestPaths.NewTempDir("eg-cli-train"), name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void ArticlePresetTrainsLogsAndWritesAFolderAndGgufThatEmbedAlike()
    {
        var data = DataFile(ArticleData);
        var outDir = Path.Combine(TestPaths.NewTempDir("eg-cli-train"), "out");
        var (code, stdout, err) = Run("train", "--model", Model.Folder, "--train", data, "--out", outDir, "--preset", "article", "--eval", data, "--log-every", "2");
        Assert.True(code == 0, err);
        // 3 similarity pairs + 2 triplets at batch 2: 2 + 1 batches per epoch, 3 epochs
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^Epoch 1/3, Batch 0, Loss: \d+\.\d{4}$"));
        Assert.Contains(lines, l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^Epoch 3/3, Batch 2, Loss: \d+\.\d{4}$"));
        Assert.Equal(3, lines.Count(l => l.Contains("completed. Average Loss:", StringComparison.Ordinal)));
        var log = File.ReadAllLines(Path.Combine(outDir, "train_log.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        var steps = log.Where(e => e.GetProperty("event").GetString() == "step").ToList();
        Assert.Equal(9, steps.Count);
        Assert.All(steps, s => Assert.Equal(1e-5, s.GetProperty("lr").GetDouble()));
        Assert.Equal(["cosine", "cosine-triplet"], steps.Select(s => s.GetProperty("loss_name").GetString()).Distinct().Order());
        var eval = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "eval.json"))).RootElement.GetProperty("scores");
        Assert.Contains(eval.EnumerateArray(), s => s.GetProperty("metric").GetString() == "spearman" && s.GetProperty("dimensions").GetInt32() == 32);
        Assert.True(Directory.Exists(Path.Combine(outDir, "checkpoints", "step-00000009")));
        using var folder = EmbeddingGemmaModel.Load(outDir, new ModelLoadOptions { UseHub = false });
        using var gguf = EmbeddingGemmaModel.Load(Path.Combine(outDir, "model.gguf"), new ModelLoadOptions { UseHub = false });
        using var before = EmbeddingGemmaModel.Load(Model.Folder, new ModelLoadOptions { UseHub = false });
        var a = folder.Encode("deep learning framework", new EncodeOptions { Task = "retrieval_query" });
        var b = gguf.Encode("deep learning framework", new EncodeOptions { Task = "retrieval_query" });
        var c = before.Encode("deep learning framework", new EncodeOptions { Task = "retrieval_query" });
        Assert.True(a.AsSpan().SequenceEqual(b));
        Assert.True(a.Zip(c, (x, y) => Math.Abs(x - y)).Max() > 1e-6, "the saved model is the trained one");
    }

    [Fact]
    public void ResumeFromAnInterruptedRunEqualsTheStraightRun()
    {
        var data = DataFile(ArticleData);
        var root = TestPaths.NewTempDir("eg-cli-train");
        string[] common = ["train", "--model", Model.Folder, "--train", data, "--loss", "similarity=cosent,triplet=mnrl", "--batch-size", "2", "--epochs", "3",
            "--lr", "1e-3", "--output-gguf", "none", "--json"];
        var straight = Run([.. common, "--out", Path.Combine(root, "straight")]);
        Assert.True(straight.Code == 0, straight.Err);
        // a run that saves every 3 steps (the two newest checkpoints are kept: 6 and 9): step 6 stands for an interruption there
        var saving = Run([.. common, "--out", Path.Combine(root, "saving"), "--save-every", "3"]);
        Assert.True(saving.Code == 0, saving.Err);
        var resumed = Run([.. common, "--out", Path.Combine(root, "resumed"), "--resume", Path.Combine(root, "saving", "checkpoints", "step-00000006")]);
        Assert.True(resumed.Code == 0, resumed.Err);
        var x = File.ReadAllBytes(Path.Combine(root, "straight", "model.safetensors"));
        var y = File.ReadAllBytes(Path.Combine(root, "resumed", "model.safetensors"));
        Assert.Equal(x, y);
        Assert.Equal(9, JsonDocument.Parse(resumed.Out).RootElement.GetProperty("steps").GetInt32());
    }

    [Theory]
    [InlineData("[\n{\"type\":\"similarity\",\"text1\":\"a\",\"text2\":\"b\"}\n]", 3, ":2: missing field \"similarity\"")]
    [InlineData("[{\"type\":\"similarity\",\"text1\":\"a\",\"text2\":\"b\",\"similarity\":0.5}]", 2, "does not take similarity rows")]
    public void BadDataOrLossGiveOneErrorLine(string text, int exit, string message)
    {
        var data = DataFile(text);
        var (code, _, err) = Run("train", "--model", Model.Folder, "--train", data, "--out", Path.Combine(TestPaths.NewTempDir("eg-cli-train"), "o"), "--loss", "mnrl");
        Assert.Equal(exit, code);
        var errors = err.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.Single(errors);
        Assert.Contains(message, errors[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--matryoshka", "64", "Matryoshka dimension 64")]
    [InlineData("--scheduler", "step", "--scheduler 'step'")]
    [InlineData("--output-gguf", "q3", "unknown GGUF type 'q3'")]
    [InlineData("--freeze-layers", "1-x", "--freeze-layers")]
    [InlineData("--preset", "paper", "unknown preset")]
    public void BadOptionsExitTwoNamingTheOption(string option, string value, string message)
    {
        var data = DataFile(ArticleData);
        var (code, _, err) = Run("train", "--model", Model.Folder, "--train", data, "--out", Path.Combine(TestPaths.NewTempDir("eg-cli-train"), "o"), option, value);
        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }

    [Fact]
    public void EvalTasksRunThroughTheEvaluationLibraryBeforeAndAfter()
    {
        var data = DataFile(ArticleData);
        var outDir = Path.Combine(TestPaths.NewTempDir("eg-cli-train"), "out");
        var (code, stdout, err) = Run("train", "--model", Model.Folder, "--train", data, "--out", outDir, "--max-steps", "2", "--lr", "1e-3", "--warmup-ratio", "0",
            "--eval", "stsbenchmark-en", "--data-dir", Path.Combine(TestPaths.RepoRoot, "data", "eval"), "--output-gguf", "none", "--json");
        Assert.True(code == 0, err);
        var scores = JsonDocument.Parse(stdout).RootElement.GetProperty("eval").GetProperty("scores");
        var row = Assert.Single(scores.EnumerateArray());
        Assert.Equal("stsbenchmark-en", row.GetProperty("task").GetString());
        Assert.Equal("cosine_spearman", row.GetProperty("metric").GetString());
        Assert.Equal(32, row.GetProperty("dimensions").GetInt32());
        Assert.NotEqual(row.GetProperty("before").GetDouble(), row.GetProperty("after").GetDouble());
        Assert.False(File.Exists(Path.Combine(outDir, "model.gguf")));
        Assert.True(File.Exists(Path.Combine(outDir, "eval.json")));
    }

    [Fact]
    public void MissingTrainingFileExitsThree()
    {
        var (code, _, err) = Run("train", "--model", Model.Folder, "--train", "/nonexistent/data.jsonl", "--out", Path.Combine(TestPaths.NewTempDir("eg-cli-train"), "o"));
        Assert.Equal(3, code);
        Assert.StartsWith("error: Training data not found: /nonexistent/data.jsonl", err.Trim(), StringComparison.Ordinal);
    }
}

/// <summary>SIGTERM (as Ctrl+C) during training: exit 130, a checkpoint of the last completed step, and a resume from it equals the straight run.</summary>
public sealed class TrainCommandSignalTests
{
    [Fact]
    public async Task TerminationSavesACheckpointThatResumesBitIdentically()
    {
        var rng = new Random(2);
        string[] words = ["alpha", "beta", "gamma", "delta", "river", "stone", "cloud", "light", "green", "north"];
        string S() => string.Join(' ', Enumerable.Range(0, 4).Select(_ => words[rng.Next(words.Length)]));
        var root = TestPaths.NewTempDir("eg-cli-sig");
        var data = Path.Combine(root, "d.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 80).Select(i => $"{{\"sentence1\":\"{S()} {i}\",\"sentence2\":\"{S()}\",\"score\":{rng.NextDouble():F3}}}"));
        var model = TinyModels.Default.Folder;
        string[] common = ["train", "--model", model, "--train", data, "--loss", "cosent", "--batch-size", "2", "--lr", "1e-3", "--output-gguf", "none", "--json"];
        var dll = Path.Combine(AppContext.BaseDirectory, "EmbeddingGemma.Cli.dll");
        (int, string) Run(params string[] args)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add(dll);
            foreach (var a in args)
            {
                psi.ArgumentList.Add(a);
            }
            using var p = Process.Start(psi)!;
            var o = p.StandardOutput.ReadToEndAsync();
            var e = p.StandardError.ReadToEnd();
            p.WaitForExit();
            _ = o.Result;
            return (p.ExitCode, e);
        }
        var straight = Run([.. common, "--out", Path.Combine(root, "straight")]);
        Assert.True(straight.Item1 == 0, straight.Item2);

        var cut = Path.Combine(root, "cut");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        foreach (var a in (string[])[.. common, "--out", cut])
        {
            psi.ArgumentList.Add(a);
        }
        using var proc = Process.Start(psi)!;
        var stdout = proc.StandardOutput.ReadToEndAsync();
        var stderr = proc.StandardError.ReadToEndAsync();
        var log = Path.Combine(cut, "train_log.jsonl");
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!(File.Exists(log) && File.ReadAllLines(log).Length >= 3) && !proc.HasExited && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.False(proc.HasExited, "the run ended before it could be interrupted");
        using (var kill = Process.Start("kill", ["-TERM", proc.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        await proc.WaitForExitAsync();
        Assert.Equal(130, proc.ExitCode);
        Assert.Contains("error: cancelled", await stderr, StringComparison.Ordinal);
        await stdout;
        var checkpoint = Assert.Single(Directory.GetDirectories(Path.Combine(cut, "checkpoints"), "step-*"));
        var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(checkpoint, "trainer_state.json"))).RootElement.GetProperty("step").GetInt32();
        Assert.InRange(saved, 3, 39);
        var resumed = Run([.. common, "--out", Path.Combine(root, "resumed"), "--resume", cut]);
        Assert.True(resumed.Item1 == 0, resumed.Item2);
        Assert.Equal(File.ReadAllBytes(Path.Combine(root, "straight", "model.safetensors")), File.ReadAllBytes(Path.Combine(root, "resumed", "model.safetensors")));
    }
}
