using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Numerics;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Tests.Hub;

namespace EmbeddingGemma.Cli.Tests;

/// <summary>
/// Issue 12 (no crash, no hang, no silent corruption on any input), the CLI findings of the hostile-user probe, each
/// test named after its finding. Every failure is one <c>error:</c> line on stderr and a documented exit code.
/// </summary>
public sealed partial class HardeningTests
{
    private sealed record CliRun(int Code, string Out, string Err, TimeSpan Elapsed);

    private static CliRun Run(byte[]? stdin, IEnumerable<(string, string)>? env, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "EmbeddingGemma.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        foreach (var name in new[] { "EMBEDDINGGEMMA_DEBUG", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_TOKEN_PATH", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE" })
        {
            psi.Environment.Remove(name);
        }
        foreach (var (k, v) in env ?? [])
        {
            psi.Environment[k] = v;
        }
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.BaseStream.Write(stdin);
        }
        p.StandardInput.Close();
        if (!p.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"embeddinggemma {string.Join(' ', args)} did not finish in 120 s");
        }
        return new CliRun(p.ExitCode, outTask.Result, errTask.Result, clock.Elapsed);
    }

    private static CliRun Run(string? stdin, params string[] args) => Run(stdin is null ? null : Encoding.UTF8.GetBytes(stdin), null, args);

    /// <summary>Asserts the exit code and that stderr is exactly one <c>error:</c> line (with every <paramref name="mentions"/>).</summary>
    private static void Refused(CliRun r, int code, params string[] mentions)
    {
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(r.Code == code, $"expected exit {code}, got {r.Code}: {r.Err}");
        Assert.True(lines.Length == 1 && lines[0].StartsWith("error: ", StringComparison.Ordinal), $"expected one error: line, got: {r.Err}");
        Assert.DoesNotContain("   at ", r.Err, StringComparison.Ordinal);
        foreach (var m in mentions)
        {
            Assert.Contains(m, r.Err, StringComparison.Ordinal);
        }
    }

    private static string CopyFolder(string src)
    {
        var dst = TestPaths.NewTempDir();
        foreach (var f in Directory.GetFiles(src, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(src, f);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(dst, rel))!);
            File.Copy(f, Path.Combine(dst, rel));
        }
        return dst;
    }

    [Fact]
    public void EmbedUnwritableOutputFailsBeforeAnyWork()
    {
        var m = TinyModels.Default;
        var dir = TestPaths.NewTempDir();
        Refused(Run("hello\n", "embed", "--model", m.Folder, "--output", dir), 3, dir, "directory");
        // the output is checked before the model is even loaded: a missing model is not what is reported
        var missing = Path.Combine(dir, "no", "such", "dir", "out.jsonl");
        Refused(Run("hello\n", "embed", "--model", "/nonexistent/model", "--output", missing), 3, missing);
        // a failed run leaves no empty output file behind
        var outFile = Path.Combine(dir, "v.jsonl");
        Refused(Run("hello\n\n", "embed", "--model", m.Folder, "--output", outFile), 2, "line 2");
        Assert.False(File.Exists(outFile));
        Assert.Equal(0, Run("hello\n", "embed", "--model", m.Folder, "--output", outFile).Code);
        Assert.True(new FileInfo(outFile).Length > 0);
    }

    [Fact]
    public void GgufSlidingWindowPatternZeroAndHugeEmbeddingLengthExit3NamingTheKey()
    {
        foreach (var (key, value) in new[] { ("gemma-embedding.attention.sliding_window_pattern", 0u), ("gemma-embedding.embedding_length", 1u << 31) })
        {
            var path = Path.Combine(TestPaths.NewTempDir(), "bad.gguf");
            using (var g = GgufFile.Open(TinyModels.Default.GgufPath))
            {
                var w = new GgufWriter();
                foreach (var (k, v) in g.Metadata.Where(kv => kv.Key != key))
                {
                    w.AddValue(k, v);
                }
                w.AddUInt32(key, value);
                foreach (var t in g.Tensors.Values)
                {
                    w.AddRawTensor(t.Name, t.Type, t.Shape, g.GetBytes(t).ToArray());
                }
                w.Write(path);
            }
            Refused(Run("[2, 1]\n", "embed", "--model", path, "--ids"), 3, key, path);
            Refused(Run(null, "info", "--model", path), 3, key);
        }
    }

    [Fact]
    public void MalformedModulesJsonExits3()
    {
        var dir = CopyFolder(TinyModels.Default.Folder);
        File.WriteAllText(Path.Combine(dir, "modules.json"), "[{\"type\": 5}");
        Refused(Run("hello\n", "embed", "--model", dir), 3, "modules.json");
        File.WriteAllText(Path.Combine(dir, "modules.json"), "[{\"type\": \"x.Transformer\"}, {\"type\": \"x.Pooling\", \"path\": \"1_Pooling\"}]");
        Refused(Run("hello\n", "embed", "--model", dir), 3, "modules.json");
    }

    [Fact]
    public void TokenizeMaxLength1IsABadArgumentNotACrash()
    {
        var tok = Path.Combine(TinyModels.Default.Folder, "tokenizer.json");
        Refused(Run("hello\n", "tokenize", "--tokenizer", tok, "--max-length", "1"), 2, "--max-length");
        Refused(Run("hello\n", "tokenize", "--tokenizer", tok, "--max-length", "1", "--tokens"), 2, "--max-length");
        var ok = Run("hello\n", "tokenize", "--tokenizer", tok, "--max-length", "1", "--no-special");
        Assert.True(ok.Code == 0, ok.Err);
    }

    [Fact]
    public void MakeModelOverExistingFilesAndDirectoriesIsSafe()
    {
        var dir = TestPaths.NewTempDir();
        var gguf = Path.Combine(dir, "m.gguf");
        Assert.Equal(0, Run(null, "make-model", "--gguf", gguf, "--seed", "1").Code);
        Assert.Equal(0, Run(null, "make-model", "--gguf", gguf, "--seed", "2").Code);   // over an existing file: replaced
        Assert.Single(Directory.GetFiles(dir));                                          // no temporary file left
        Refused(Run(null, "make-model", "--gguf", dir), 3, dir, "directory");
        Refused(Run(null, "make-model", "--out", gguf), 3, gguf, "file");
    }

    [Fact]
    public void QuantizeAndConvertOutputIoErrorsExit3NamingThePath()
    {
        var m = TinyModels.Default;
        var dir = TestPaths.NewTempDir();
        Refused(Run(null, "quantize", "--model", m.GgufPath, "--type", "q8_0", "--out", dir), 3, dir);
        var fileAsParent = Path.Combine(dir, "f");
        File.WriteAllText(fileAsParent, "x");
        Refused(Run(null, "quantize", "--model", m.GgufPath, "--type", "q8_0", "--out", Path.Combine(fileAsParent, "q.gguf")), 3, fileAsParent);
        var asDir = Path.Combine(dir, "d.gguf");
        Directory.CreateDirectory(asDir);
        Refused(Run(null, "convert", "--model", m.Folder, "--out", asDir), 3, asDir);
        Refused(Run(null, "convert", "--model", m.GgufPath, "--out", fileAsParent), 3, fileAsParent);
    }

    [Fact]
    public void EmbedRefusesNonFiniteVectorsNamingTheTensor()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "nan.gguf");
        const string victim = "dense_3.weight";
        using (var g = GgufFile.Open(TinyModels.Default.GgufPath))
        {
            var w = new GgufWriter();
            foreach (var (k, v) in g.Metadata)
            {
                w.AddValue(k, v);
            }
            foreach (var t in g.Tensors.Values)
            {
                var bytes = g.GetBytes(t).ToArray();
                if (t.Name == victim)
                {
                    Assert.Equal(GgmlType.F32, t.Type);
                    BitConverter.TryWriteBytes(bytes.AsSpan(4 * 17), float.NaN);
                }
                w.AddRawTensor(t.Name, t.Type, t.Shape, bytes);
            }
            w.Write(path);
        }
        File.Copy(Path.Combine(TinyModels.Default.Folder, "tokenizer.json"), Path.Combine(Path.GetDirectoryName(path)!, "tokenizer.json"));
        var r = Run("hello world\n", "embed", "--model", path);
        Refused(r, 3, "non-finite", "corrupt", victim);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void EmbedRefusesEmptyAndWhitespaceLines()
    {
        var m = TinyModels.Default;
        Refused(Run("a\n\nb\n", "embed", "--model", m.Folder), 2, "line 2");
        Refused(Run("a\n   \t\n", "embed", "--model", m.Folder), 2, "line 2");
        Refused(Run("\"a\"\n\"\"\n", "embed", "--model", m.Folder, "--jsonl"), 2, "line 2");
        Refused(Run("{\"text\": \"  \"}\n", "embed", "--model", m.Folder, "--jsonl"), 2, "line 1");
        Refused(Run("[2, 1]\n\n", "embed", "--model", m.Folder, "--ids"), 2, "line 2");
        Refused(Run("[2, 1]\n[]\n", "embed", "--model", m.Folder, "--ids"), 2, "line 2");
    }

    [Fact]
    public void MissingTokenizerJsonExits3()
    {
        var dir = CopyFolder(TinyModels.Default.Folder);
        File.Delete(Path.Combine(dir, "tokenizer.json"));
        Refused(Run("hello\n", "embed", "--model", dir), 3, "tokenizer");
        Refused(Run("hello\n", "tokenize", "--tokenizer", Path.Combine(dir, "tokenizer.json")), 3, "tokenizer.json");
    }

    [Fact]
    public void InvalidUtf8AndUnpairedSurrogatesAreRefusedNamingTheLine()
    {
        var m = TinyModels.Default;
        var tok = Path.Combine(m.Folder, "tokenizer.json");
        byte[] badBytes = [.. "fine\n"u8, 0x62, 0x61, 0xFF, 0x64, 0x0A];
        Refused(Run(badBytes, null, "embed", "--model", m.Folder), 2, "line 2", "invalid UTF-8");
        Refused(Run(badBytes, null, "tokenize", "--tokenizer", tok), 2, "line 2", "invalid UTF-8");
        var lone = "\"ok\"\n\"bad \\ud800 text\"\n";
        Refused(Run(lone, "embed", "--model", m.Folder, "--jsonl"), 2, "line 2", "unpaired surrogate");
        Refused(Run(lone, "tokenize", "--tokenizer", tok, "--jsonl"), 2, "line 2", "unpaired surrogate");
        Refused(Run("{\"text\": \"x\", \"title\": \"\\udc00\"}\n", "embed", "--model", m.Folder, "--jsonl"), 2, "line 1", "unpaired surrogate", "\"title\"");

        var dir = TestPaths.NewTempDir();
        var docs = Path.Combine(dir, "docs.jsonl");
        File.WriteAllText(docs, "{\"id\": \"1\", \"text\": \"fine\"}\n{\"id\": \"2\", \"text\": \"bad \\ud800\"}\n");
        Refused(Run(null, "index", "--db", Path.Combine(dir, "i.db"), "--model", "hash:32", "--input", docs), 2, "line 2", "unpaired surrogate", "'text'");
        File.WriteAllBytes(docs, [.. "{\"id\": \"1\", \"text\": \"fine\"}\n"u8, .. "{\"id\": \"2\", \"text\": \"x"u8, 0xC3, 0x28, .. "\"}\n"u8]);
        Refused(Run(null, "index", "--db", Path.Combine(dir, "j.db"), "--model", "hash:32", "--input", docs), 2, "line 2", "invalid UTF-8");
    }

    [Fact]
    public void InputDirectoryIsReportedAsADirectory()
    {
        var dir = TestPaths.NewTempDir();
        Refused(Run(null, "embed", "--model", TinyModels.Default.Folder, "--input", dir), 2, dir, "is a directory");
        Refused(Run(null, "tokenize", "--tokenizer", TinyModels.Default.Folder, "--input", dir), 2, dir, "is a directory");
    }

    [Fact]
    public void TooLargeDimensionsListsOnlySizesTheModelHas()
    {
        var r = Run("x\n", "embed", "--model", TinyModels.Default.Folder, "--dimensions", "1000");
        Refused(r, 2, "between 1 and 64", "1000");
        Assert.DoesNotContain("768", r.Err, StringComparison.Ordinal);
    }

    [Fact]
    public void HugeSingleLineEmbedsWithBoundedWork()
    {
        // 20 MB on one line: the library tokenizes a bounded prefix (HardeningTests in EmbeddingGemma.Tests counts
        // the characters); here the whole command must finish quickly with one vector.
        var sb = new StringBuilder(20_000_100);
        while (sb.Length < 20_000_000)
        {
            sb.Append("lorem ipsum dolor sit amet ");
        }
        sb.Append('\n');
        var r = Run(sb.ToString(), "embed", "--model", TinyModels.Default.Folder);
        Assert.True(r.Code == 0, r.Err);
        Assert.Single(r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.True(r.Elapsed < TimeSpan.FromSeconds(60), $"{r.Elapsed}");
    }

    [Fact]
    public async Task UnexpectedExceptionsAreInternalErrorsOnOneLineWithoutStackTrace()
    {
        var (code, err) = await RunInProcess(new InvalidOperationException("boom\nsecond line"));
        Assert.Equal(1, code);
        Assert.StartsWith("error: internal error: System.InvalidOperationException: boom second line", err, StringComparison.Ordinal);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal((3, "error: cannot write x: disk full"), CliErrors.Describe(new IOException("cannot write x: disk full")));
        Assert.Equal(3, CliErrors.Describe(new UnauthorizedAccessException("Access to the path '/x' is denied.")).Code);
        Assert.Equal(2, CliErrors.Describe(new AggregateException(new EmbeddingGemmaException(ErrorKind.InvalidArgument, "inner"))).Code);
        Assert.Equal((130, "error: cancelled"), CliErrors.Describe(new OperationCanceledException()));
    }

    /// <summary>Runs <see cref="CliErrors.RunAsync"/> with a command that throws <paramref name="e"/>; returns the exit code and stderr.</summary>
    private static async Task<(int Code, string Err)> RunInProcess(Exception e)
    {
        var root = new RootCommand("test");
        var fail = new Command("fail");
        fail.SetAction((ParseResult _) => (int)(e is null ? 0 : throw e));
        root.Subcommands.Add(fail);
        var saved = Console.Error;
        var err = new StringWriter();
        Console.SetError(err);
        try
        {
            return (await CliErrors.RunAsync(root, ["fail"]), err.ToString());
        }
        finally
        {
            Console.SetError(saved);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    /// <summary>
    /// Starts the CLI with a stdin that stays open and never sends a line (the command blocks reading it), sends SIGINT
    /// (what Ctrl+C sends) after <paramref name="after"/>, and returns how it ended.
    /// </summary>
    private static CliRun Interrupted(params string[] args) => Interrupted(TimeSpan.FromSeconds(3), args);

    private static CliRun Interrupted(TimeSpan after, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "EmbeddingGemma.Cli.dll");
        // Through coreutils' env --default-signal=INT: a test run started in the background (`./test.sh &`, a CI runner)
        // inherits SIGINT ignored, as POSIX shells set it for background jobs, and the runtime keeps an inherited
        // SIG_IGN, so the signal would never arrive. A user's Ctrl+C reaches a foreground process with the default.
        var psi = new ProcessStartInfo("env") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add("--default-signal=INT");
        psi.ArgumentList.Add("dotnet");
        psi.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment.Remove("EMBEDDINGGEMMA_DEBUG");
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var outTask = p.StandardOutput.ReadToEndAsync();
        var errTask = p.StandardError.ReadToEndAsync();
        Thread.Sleep(after);
        if (p.HasExited)
        {
            Assert.Fail("the command ended before the signal: " + errTask.Result);
        }
        Assert.Equal(0, kill(p.Id, 2));
        if (!p.WaitForExit(TimeSpan.FromSeconds(30)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"embeddinggemma {string.Join(' ', args)} did not end within 30 s of SIGINT");
        }
        p.StandardInput.Close();
        return new CliRun(p.ExitCode, outTask.Result, errTask.Result, clock.Elapsed);
    }

    [Fact]
    public void CtrlCWhileEmbedReadsStdinExits130WithOneErrorLine()
    {
        // Leftover of finding 13: Ctrl+C while embed waits on stdin ended the process after System.CommandLine's 2 s
        // termination timeout with exit 130 and nothing on stderr. Now: one error: line, exit 130, within the 2 s grace.
        var r = Interrupted("embed", "--model", TinyModels.Default.Folder);
        Refused(r, 130, "cancelled");
        Assert.Equal("", r.Out);
    }

    [Fact]
    public void CtrlCDuringTokenizeFromStdinExits130()
    {
        var r = Interrupted("tokenize", "--tokenizer", TinyModels.Default.Folder);
        Refused(r, 130, "cancelled");
    }

    [GeneratedRegex(@"^\|\s*`(\d+)`\s*\|", RegexOptions.Multiline)]
    private static partial Regex ExitCodeRow();

    [Fact]
    public async Task ReadmeExitCodeTableMatchesTheCli()
    {
        // Every code of the README's table is produced by the real CLI with one error: line (1 also through the same
        // entry point in-process: there is no input that triggers a bug on demand; 130 both ways, by a real SIGINT).
        var readme = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md"));
        var section = readme[readme.IndexOf("## Command-line reference and exit codes", StringComparison.Ordinal)..];
        section = section[..section.IndexOf("\n## ", 10, StringComparison.Ordinal)];
        var codes = ExitCodeRow().Matches(section).Select(x => int.Parse(x.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 130], codes);
        await using var hub = await FakeHub.StartAsync();
        hub.AddRepo("google/gated").RequiredToken = "hf_secret";
        hub.AddRepo("google/gated").AddCommit(new Dictionary<string, FakeFile> { ["config.json"] = new("{}"u8.ToArray(), false) });
        var m = TinyModels.Default;
        foreach (var code in codes)
        {
            switch (code)
            {
                case 0:
                    var ok = Run("hello\n", "embed", "--model", m.Folder);
                    Assert.True(ok.Code == 0 && ok.Err.Length == 0, ok.Err);
                    break;
                case 1:
                    Assert.Equal(1, (await RunInProcess(new NullReferenceException("bug"))).Code);
                    break;
                case 2:
                    Refused(Run("hello\n", "embed", "--model", m.Folder, "--dimensions", "0"), 2);
                    Refused(Run("hello\n", "embed", "--model", m.Folder, "--no-such-option"), 2);
                    break;
                case 3:
                    Refused(Run("hello\n", "embed", "--model", "/nonexistent/model"), 3);
                    break;
                case 4:
                    var llama = Path.Combine(TestPaths.NewTempDir(), "llama.gguf");
                    new GgufWriter().AddString("general.architecture", "llama").Write(llama);
                    Refused(Run("[2, 1]\n", "embed", "--model", llama, "--ids"), 4, "llama");
                    break;
                case 5:
                    var home = TestPaths.NewTempDir("eg-hfhome");
                    Refused(Run(null, [("HF_HOME", home), ("HF_ENDPOINT", hub.Endpoint)], "download", "google/gated"), 5);
                    break;
                case 6:
                    Refused(Run(null, [("HF_HOME", TestPaths.NewTempDir("eg-hfhome")), ("HF_ENDPOINT", "http://127.0.0.1:1")], "download", "google/x"), 6);
                    break;
                case 130:
                    Assert.Equal(130, (await RunInProcess(new OperationCanceledException())).Code);
                    Refused(Interrupted("embed", "--model", m.Folder), 130, "cancelled");
                    break;
                default:
                    Assert.Fail($"README documents exit code {code}, which this test cannot trigger");
                    break;
            }
        }
    }
}
