using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Tokenization;

namespace EmbeddingGemma.Cli.Commands;

/// <summary>
/// <c>embeddinggemma tokenize</c>: texts in (raw lines, or one JSON string per line), one JSON array of ids per line
/// out, in input order.
/// </summary>
internal static class TokenizeCommand
{
    /// <summary>Lines encoded per parallel batch: bounds memory on huge inputs while keeping both cores busy.</summary>
    private const int ChunkLines = 4096;

    private static readonly JsonSerializerOptions PieceJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    internal sealed record Settings(
        string? InputPath,
        bool Jsonl,
        bool NoSpecial,
        int? MaxLength,
        bool Tokens,
        bool? AddBos,
        bool? AddEos);

    public static Command Create()
    {
        var tokenizer = new Option<string>("--tokenizer")
        {
            Description = "A tokenizer.json, or a model folder holding tokenizer.json (+ tokenizer_config.json).",
            Required = true,
        };
        var input = new Option<string?>("--input") { Description = "Read texts from this file instead of stdin (\"-\" = stdin)." };
        var jsonl = new Option<bool>("--jsonl") { Description = "Each input line is one JSON string (so a text may hold newlines)." };
        var noSpecial = new Option<bool>("--no-special") { Description = "Do not add <bos>/<eos>." };
        var maxLength = new Option<int?>("--max-length") { Description = "Cut to at most N ids; <eos> stays last. Truncated lines are counted on stderr." };
        var tokens = new Option<bool>("--tokens") { Description = "Print [{\"id\",\"piece\",\"start\",\"end\"}...] per line instead of ids (offsets in UTF-16 characters)." };
        var addBos = new Option<bool?>("--add-bos") { Description = "Override add_bos_token (true/false); default: tokenizer_config.json, else true." };
        var addEos = new Option<bool?>("--add-eos") { Description = "Override add_eos_token (true/false); default: tokenizer_config.json, else true." };

        var command = new Command("tokenize", "Tokenize text with the Gemma 3 tokenizer: one JSON array of token ids per input line, on stdout.");
        command.Options.Add(tokenizer);
        command.Options.Add(input);
        command.Options.Add(jsonl);
        command.Options.Add(noSpecial);
        command.Options.Add(maxLength);
        command.Options.Add(tokens);
        command.Options.Add(addBos);
        command.Options.Add(addEos);
        command.SetAction(async (ParseResult p, CancellationToken ct) =>
        {
            var settings = new Settings(p.GetValue(input), p.GetValue(jsonl), p.GetValue(noSpecial), p.GetValue(maxLength),
                p.GetValue(tokens), p.GetValue(addBos), p.GetValue(addEos));
            var tok = GemmaTokenizer.FromFile(p.GetValue(tokenizer)!, new GemmaTokenizerOptions { AddBosToken = settings.AddBos, AddEosToken = settings.AddEos });
            using var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16);
            return await RunAsync(tok, settings, stdout, Console.Error, ct).ConfigureAwait(false);
        });
        return command;
    }

    /// <summary>The command's work, with the tokenizer loaded and the output given (tests call this in-process).</summary>
    internal static async Task<int> RunAsync(GemmaTokenizer tokenizer, Settings settings, TextWriter output, TextWriter errors, CancellationToken ct)
    {
        if (settings.MaxLength is int max && max < 1)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--max-length must be at least 1, found {max}");
        }
        var specials = settings.NoSpecial ? 0 : (tokenizer.AddBosToken ? 1 : 0) + (tokenizer.AddEosToken ? 1 : 0);
        if (settings.MaxLength is int cap && cap < specials)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                $"--max-length must be at least {specials} to hold <bos> and <eos> (or add --no-special), found {cap}");
        }
        using var reader = CliFiles.OpenLines(settings.InputPath);
        return await RunAsync(tokenizer, settings, new LineSource(reader), output, errors, ct).ConfigureAwait(false);
    }

    internal static Task<int> RunAsync(GemmaTokenizer tokenizer, Settings settings, TextReader input, TextWriter output, TextWriter errors, CancellationToken ct) =>
        RunAsync(tokenizer, settings, new LineSource(input), output, errors, ct);

    /// <summary>Lines from a strict UTF-8 reader (the command) or a TextReader (tests).</summary>
    private sealed class LineSource
    {
        private readonly Utf8LineReader? _strict;
        private readonly TextReader? _text;

        public LineSource(Utf8LineReader strict) => _strict = strict;

        public LineSource(TextReader text) => _text = text;

        public ValueTask<string?> ReadLineAsync(CancellationToken ct) => _strict is not null ? _strict.ReadLineAsync(ct) : _text!.ReadLineAsync(ct);
    }

    private static async Task<int> RunAsync(GemmaTokenizer tokenizer, Settings settings, LineSource input, TextWriter output, TextWriter errors, CancellationToken ct)
    {
        var lineNumber = 0;
        var truncatedCount = 0;
        var texts = new List<string>(ChunkLines);
        var sb = new StringBuilder();
        while (true)
        {
            texts.Clear();
            while (texts.Count < ChunkLines && await input.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
            {
                lineNumber++;
                texts.Add(settings.Jsonl ? ParseJsonLine(line, lineNumber) : line);
            }
            if (texts.Count == 0)
            {
                break;
            }
            ct.ThrowIfCancellationRequested();
            var addSpecial = !settings.NoSpecial;
            if (settings.Tokens)
            {
                foreach (var text in texts)
                {
                    var tokens = settings.MaxLength is int m
                        ? tokenizer.EncodeToTokens(text, m, out var t, addSpecial)
                        : tokenizer.EncodeToTokens(text, addSpecial);
                    WriteTokens(sb, tokens, text.Length);
                    await output.WriteLineAsync(sb, ct).ConfigureAwait(false);
                    sb.Clear();
                }
                if (settings.MaxLength is int mm)
                {
                    truncatedCount += texts.Count(x => tokenizer.CountTokens(x, addSpecial) > mm);
                }
                continue;
            }
            var truncated = new bool[texts.Count];
            var ids = tokenizer.EncodeBatchToIds(texts, addSpecial, settings.MaxLength, truncated);
            truncatedCount += truncated.Count(x => x);
            foreach (var row in ids)
            {
                WriteIds(sb, row);
                await output.WriteLineAsync(sb, ct).ConfigureAwait(false);
                sb.Clear();
            }
        }
        await output.FlushAsync(ct).ConfigureAwait(false);
        if (truncatedCount > 0)
        {
            await errors.WriteLineAsync($"tokenize: {truncatedCount} of {lineNumber} texts were truncated to {settings.MaxLength} tokens").ConfigureAwait(false);
        }
        return ExitCodes.Ok;
    }

    private static string ParseJsonLine(string line, int lineNumber)
    {
        try
        {
            var reader = new Utf8JsonReader(Encoding.UTF8.GetBytes(line));
            if (!reader.Read() || reader.TokenType != JsonTokenType.String)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                    $"input line {lineNumber}: expected one JSON string per line (--jsonl), found {(reader.TokenType == JsonTokenType.None ? "an empty line" : reader.TokenType.ToString())}");
            }
            string text;
            try
            {
                text = reader.GetString()!;
            }
            catch (InvalidOperationException e)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                    $"line {lineNumber}: unpaired surrogate (invalid UTF-16 escape) in field (the line's string); the text must be valid Unicode.", e);
            }
            if (reader.Read())
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"input line {lineNumber}: more than one JSON value on the line");
            }
            return text;
        }
        catch (JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"input line {lineNumber}: not valid JSON (--jsonl): {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"input line {lineNumber}: {e.Message}", e);
        }
    }

    private static void WriteIds(StringBuilder sb, int[] ids)
    {
        sb.Append('[');
        for (var i = 0; i < ids.Length; i++)
        {
            if (i > 0)
            {
                sb.Append(',');
            }
            sb.Append(ids[i].ToString(CultureInfo.InvariantCulture));
        }
        sb.Append(']');
    }

    private static void WriteTokens(StringBuilder sb, IReadOnlyList<GemmaToken> tokens, int textLength)
    {
        sb.Append('[');
        for (var i = 0; i < tokens.Count; i++)
        {
            var t = tokens[i];
            var (start, length) = t.Offset.GetOffsetAndLength(textLength);
            if (i > 0)
            {
                sb.Append(',');
            }
            sb.Append("{\"id\":").Append(t.Id.ToString(CultureInfo.InvariantCulture))
              .Append(",\"piece\":").Append(JsonSerializer.Serialize(t.Value, PieceJson))
              .Append(",\"start\":").Append(start.ToString(CultureInfo.InvariantCulture))
              .Append(",\"end\":").Append((start + length).ToString(CultureInfo.InvariantCulture)).Append('}');
        }
        sb.Append(']');
    }
}
