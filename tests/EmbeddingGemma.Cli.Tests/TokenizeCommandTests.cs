using System.Diagnostics;
using System.Text.Json;
using EmbeddingGemma.Cli.Commands;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Tokenization;

namespace EmbeddingGemma.Cli.Tests;

/// <summary><c>embeddinggemma tokenize</c>: in-process for the output format, as a process for exit codes.</summary>
public class TokenizeCommandTests
{
    private static readonly Lazy<GemmaTokenizer> Tokenizer = new(() => GemmaTokenizer.FromFile(TestPaths.Gemma3TokenizerJson,
        new GemmaTokenizerOptions { AddBosToken = true, AddEosToken = true }));

    private static TokenizeCommand.Settings Defaults => new(null, false, false, null, false, null, null);

    private static async Task<(int Code, string[] Lines, string Errors)> Run(string input, TokenizeCommand.Settings settings)
    {
        using var output = new StringWriter();
        using var errors = new StringWriter();
        var code = await TokenizeCommand.RunAsync(Tokenizer.Value, settings, new StringReader(input), output, errors, CancellationToken.None);
        var lines = output.ToString().Split('\n', StringSplitOptions.None);
        return (code, lines[..^1], errors.ToString());
    }

    [Fact]
    public async Task Raw_lines_give_one_id_array_per_line_in_order()
    {
        var (code, lines, _) = await Run("Hello world\n\nhello\n", Defaults);
        Assert.Equal(0, code);
        Assert.Equal(["[2,9259,1902,1]", "[2,1]", "[2,23391,1]"], lines);
    }

    [Fact]
    public async Task Jsonl_texts_may_hold_newlines()
    {
        var (_, lines, _) = await Run("\"Hello world\"\n\"a\\nb\"\n", Defaults with { Jsonl = true });
        Assert.Equal("[2,9259,1902,1]", lines[0]);
        Assert.Equal(JsonSerializer.Serialize(Tokenizer.Value.EncodeToIds("a\nb")), lines[1]);
        var e = await Assert.ThrowsAsync<EmbeddingGemmaException>(() => Run("\"ok\"\n{\"text\":1}\n", Defaults with { Jsonl = true }));
        Assert.Equal(ErrorKind.InvalidArgument, e.Kind);
        Assert.Contains("input line 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_special_max_length_and_tokens()
    {
        Assert.Equal(["[9259,1902]"], (await Run("Hello world\n", Defaults with { NoSpecial = true })).Lines);
        var (_, lines, errors) = await Run("Hello world, how are you today?\nHi\n", Defaults with { MaxLength = 4 });
        Assert.Equal(4, JsonSerializer.Deserialize<int[]>(lines[0])!.Length);
        Assert.Equal(1, JsonSerializer.Deserialize<int[]>(lines[0])![^1]);
        Assert.Contains("1 of 2 texts were truncated", errors, StringComparison.Ordinal);
        var tokens = (await Run("Hello world\n", Defaults with { Tokens = true })).Lines;
        using var doc = JsonDocument.Parse(tokens[0]);
        var second = doc.RootElement[2];
        Assert.Equal(1902, second.GetProperty("id").GetInt32());
        Assert.Equal("▁world", second.GetProperty("piece").GetString());
        Assert.Equal((5, 11), (second.GetProperty("start").GetInt32(), second.GetProperty("end").GetInt32()));
    }

    [Fact]
    public async Task Empty_input_prints_nothing()
    {
        var (code, lines, errors) = await Run("", Defaults);
        Assert.Equal(0, code);
        Assert.Empty(lines);
        Assert.Equal("", errors);
    }

    private static (int Code, string Stdout, string Stderr) RunProcess(params string[] args)
    {
        var dll = typeof(TokenizeCommand).Assembly.Location;
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        psi.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        Assert.True(p.WaitForExit(120_000), "the CLI did not finish in 2 minutes");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [Fact]
    public void The_built_tool_tokenizes_a_file()
    {
        var dir = TestPaths.NewTempDir();
        var input = Path.Combine(dir, "in.txt");
        File.WriteAllText(input, "Hello world\nsecond line\n");
        var (code, stdout, stderr) = RunProcess("tokenize", "--tokenizer", TestPaths.Gemma3TokenizerJson, "--input", input, "--add-eos", "true");
        Assert.True(code == 0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        Assert.Equal("[2,9259,1902,1]", lines[0]);
        Directory.Delete(dir, recursive: true);
    }

    [Fact]
    public void Bad_files_and_arguments_give_one_error_line_and_an_exit_code()
    {
        var dir = TestPaths.NewTempDir();
        var (code, _, stderr) = RunProcess("tokenize", "--tokenizer", Path.Combine(dir, "missing.json"));
        Assert.Equal(3, code);
        Assert.StartsWith("error: ", stderr, StringComparison.Ordinal);
        Assert.Contains("missing.json", stderr, StringComparison.Ordinal);

        var truncated = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(truncated, "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0");
        (code, _, stderr) = RunProcess("tokenize", "--tokenizer", truncated);
        Assert.Equal(3, code);
        Assert.Contains(truncated, stderr, StringComparison.Ordinal);
        Assert.Contains("malformed JSON", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal); // no stack trace

        (code, _, _) = RunProcess("tokenize");
        Assert.NotEqual(0, code); // --tokenizer is required
        Directory.Delete(dir, recursive: true);
    }
}
