using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Benchmarks.SideBySide;

/// <summary>
/// The whole-process workload: what a user of each published tool runs on a text file of 64 texts of ~256 tokens
/// (prose from this repository's README and docs, one text per line). Ours:
/// <c>dotnet EmbeddingGemma.Cli.dll embed --model M --input FILE --threads T --output /dev/null</c>; llama.cpp:
/// <c>llama-embedding -m M -f FILE -t T --pooling mean --embd-separator "\n" --embd-output-format array</c> (stdout
/// discarded). Both tokenize with the GGUF's vocabulary (the real Gemma 3 one), add &lt;bos&gt;/&lt;eos&gt;, mean-pool and L2
/// normalise, and run each tool's defaults otherwise. Wall time and peak RSS from <c>/usr/bin/time -f "%e %M"</c>.
/// </summary>
internal static partial class WholeProcess
{
    public const int Texts = 64, TargetTokens = 256;

    public static void Run(IReadOnlyList<(string Label, string Path)> files, int threads, int rounds, string dir, string tokenizer, string cliDll, string llamaEmbedding)
    {
        if (!File.Exists(cliDll))
        {
            Console.WriteLine($"Whole-process workload skipped: {cliDll} not found (dotnet build src/EmbeddingGemma.Cli -c Release, or pass --cli DLL).");
            return;
        }
        if (!File.Exists(llamaEmbedding))
        {
            Console.WriteLine($"Whole-process workload skipped: {llamaEmbedding} not found (bench/native-llama/build.sh).");
            return;
        }
        var textFile = Path.Combine(dir, $"whole-process-{Texts}x{TargetTokens}.txt");
        (int Min, int Max, double Mean) counts;
        try
        {
            counts = WriteTexts(textFile, dir, tokenizer);
        }
        catch (InvalidOperationException e)
        {
            Console.WriteLine($"Whole-process workload skipped: {e.Message}.");
            return;
        }
        var time = File.Exists("/usr/bin/time") ? "/usr/bin/time" : null;
        var t = threads.ToString(CultureInfo.InvariantCulture);
        var results = new List<(string Label, string Engine, double Wall, double Rss)>();
        foreach (var (label, path) in files)
        {
            var sides = new (string Engine, string File, string[] Args)[]
            {
                ("ours: embeddinggemma embed", "dotnet", [cliDll, "embed", "--model", path, "--input", textFile, "--threads", t, "--output", "/dev/null"]),
                ("llama-embedding", llamaEmbedding, ["-m", path, "-f", textFile, "-t", t, "--pooling", "mean", "--embd-separator", "\n", "--embd-output-format", "array"]),
            };
            var best = sides.Select(_ => (Wall: double.MaxValue, Rss: 0.0)).ToArray();
            for (var r = 1; r <= rounds; r++)
            {
                for (var s = 0; s < sides.Length; s++)
                {
                    Console.Error.WriteLine($"whole process, {label}: {sides[s].Engine} (round {r}/{rounds}) ...");
                    var (wall, rss) = Measure(time, sides[s].File, sides[s].Args, dir);
                    best[s] = (Math.Min(best[s].Wall, wall), Math.Max(best[s].Rss, rss));
                }
            }
            for (var s = 0; s < sides.Length; s++)
            {
                results.Add((label, sides[s].Engine, best[s].Wall, best[s].Rss));
            }
        }
        Console.WriteLine($"Whole process: {Texts} texts of {counts.Min}-{counts.Max} tokens (mean {counts.Mean:F0}, <bos>/<eos> included) from README/docs prose, one per line in {Path.GetFileName(textFile)}; {threads} threads; best of {rounds} alternating rounds; wall time and peak RSS from {(time ?? "a stopwatch (no /usr/bin/time: RSS not measured)")}.");
        Console.WriteLine($"  ours:  dotnet {Path.GetFileName(cliDll)} embed --model M --input FILE --threads {t} --output /dev/null");
        Console.WriteLine($"  llama: llama-embedding -m M -f FILE -t {t} --pooling mean --embd-separator \"\\n\" --embd-output-format array > /dev/null");
        Console.WriteLine();
        Console.WriteLine("| weights | command | wall s | ours ÷ | texts/s | peak RSS MB |");
        Console.WriteLine("|---|---|---|---|---|---|");
        foreach (var g in results.GroupBy(r => r.Label))
        {
            var ours = g.First();
            foreach (var r in g)
            {
                var isOurs = r.Engine == ours.Engine;
                Console.WriteLine($"| {(isOurs ? r.Label : "")} | {r.Engine} | {r.Wall:F2} | {(isOurs ? "" : Orchestrator.Ratio(ours.Wall, r.Wall))} | {Texts / r.Wall:F1} | {(r.Rss > 0 ? r.Rss.ToString("F0", CultureInfo.InvariantCulture) : "–")} |");
            }
        }
        Console.WriteLine();
    }

    private static (double Wall, double RssMb) Measure(string? time, string file, string[] args, string dir)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        if (time is null)
        {
            var (rc0, _, err0) = Orchestrator.Exec(file, args);
            return rc0 == 0 ? (sw.Elapsed.TotalSeconds, 0) : throw new InvalidOperationException($"{file} exited {rc0}: {Orchestrator.Tail(err0)}");
        }
        var timeFile = Path.Combine(dir, "time.txt");
        var (rc, _, err) = Orchestrator.Exec(time, new[] { "-f", "%e %M", "-o", timeFile, file }.Concat(args));
        if (rc != 0)
        {
            throw new InvalidOperationException($"{file} exited {rc}: {Orchestrator.Tail(err)}");
        }
        var parts = File.ReadAllLines(timeFile).Last(l => l.Trim().Length > 0).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (double.Parse(parts[0], CultureInfo.InvariantCulture), double.Parse(parts[1], CultureInfo.InvariantCulture) / 1024);
    }

    /// <summary>
    /// Writes the text file (once): prose sentences of README.md and docs/*.md, words added until the text has
    /// <see cref="TargetTokens"/> tokens with the real Gemma 3 tokenizer (counted through the public API on a tiny
    /// random model that carries the same vocabulary). Returns the token counts.
    /// </summary>
    private static (int Min, int Max, double Mean) WriteTexts(string path, string dir, string tokenizer)
    {
        var probe = Path.Combine(dir, "tokenizer-probe-tiny-gemma3vocab.gguf");
        if (!File.Exists(probe))
        {
            RandomModel.Create("tiny", 42, tokenizerJsonPath: tokenizer).WriteGguf(probe + ".tmp", GgmlType.F32);
            File.Move(probe + ".tmp", probe, overwrite: true);
        }
        using var model = EmbeddingGemmaModel.Load(probe, new ModelLoadOptions { Threads = 1, UseHub = false });
        int Count(string text) => model.Tokenize(text).TokenCount;
        var words = Prose().SelectMany(s => s.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        if (words.Length < 400)
        {
            throw new InvalidOperationException("not enough prose in README.md/docs to build the texts (run from the repository root)");
        }
        var counts = new List<int>();
        var lines = new List<string>();
        var w = 0;
        for (var i = 0; i < Texts; i++)
        {
            w = i * 97 % words.Length;   // each text starts elsewhere in the prose
            var text = new StringBuilder();
            var n = 0;
            while (true)
            {
                var next = text.Length == 0 ? words[w] : text + " " + words[w];
                var c = Count(next);
                if (c > TargetTokens)
                {
                    break;
                }
                text.Clear().Append(next);
                n = c;
                w = (w + 1) % words.Length;
            }
            lines.Add(text.ToString());
            counts.Add(n);
        }
        File.WriteAllText(path, string.Join('\n', lines) + "\n");
        return (counts.Min(), counts.Max(), counts.Average());
    }

    private static IEnumerable<string> Prose()
    {
        var sources = new List<string> { "README.md" };
        if (Directory.Exists("docs"))
        {
            sources.AddRange(Directory.GetFiles("docs", "*.md").Order(StringComparer.Ordinal));
        }
        foreach (var f in sources.Where(File.Exists))
        {
            var inCode = false;
            foreach (var raw in File.ReadLines(f))
            {
                var line = raw.Trim();
                if (line.StartsWith("```", StringComparison.Ordinal))
                {
                    inCode = !inCode;
                    continue;
                }
                if (inCode || line.Length < 40 || line[0] is '|' or '#' or '<' or '>' || line.StartsWith("    ", StringComparison.Ordinal))
                {
                    continue;
                }
                yield return Markup().Replace(line, "");
            }
        }
    }

    [GeneratedRegex(@"[`*_\[\]]|\(http[^)]*\)")]
    private static partial Regex Markup();
}
