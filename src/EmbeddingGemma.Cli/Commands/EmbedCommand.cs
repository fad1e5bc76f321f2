using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Embeddings.Precision;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;

namespace EmbeddingGemma.Cli.Commands;

/// <summary>
/// <c>embed</c>: one vector per input line, in order. Lines are texts, JSON values (--jsonl: a string or an object with
/// "text" and optional "title"), or JSON arrays of token ids (--ids: used as given, no prompt, no specials added).
/// </summary>
internal static class EmbedCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder, .gguf file or hub id.", Required = true };
        var input = new Option<string?>("--input") { Description = "Input file, one input per line (default: stdin)." };
        var jsonl = new Option<bool>("--jsonl") { Description = "Each line is JSON: a string, or an object with \"text\" and optional \"title\"." };
        var ids = new Option<bool>("--ids") { Description = "Each line is a JSON array of token ids, used as given (no prompt, no special tokens added)." };
        var promptName = new Option<string?>("--prompt-name") { Description = "Named prompt: query, document, STS, Clustering, ... (config_sentence_transformers.json)." };
        var task = new Option<string?>("--task") { Description = "Model-card task: retrieval_query, retrieval_document, qa_query, fact_checking, classification, clustering, semantic_similarity, code_retrieval." };
        var prompt = new Option<string?>("--prompt") { Description = "Raw prompt text prepended to every input." };
        var title = new Option<string?>("--title") { Description = "Document title for the document prompt (title: {title} | text: )." };
        var dims = new Option<int?>("--dimensions") { Description = "Matryoshka size 1..768 (768/512/256/128 trained); re-normalised." };
        var noNorm = new Option<bool>("--no-normalize") { Description = "Output the last Dense layer's output, before L2 normalisation." };
        var batch = new Option<int>("--batch-size") { Description = "Inputs per encoder call.", DefaultValueFactory = _ => 32 };
        var threads = CliOptions.Threads();
        var verbose = new Option<bool>("--verbose") { Description = "Print what ran to stderr: vectors, weight type in the engine, threads, tokens, seconds." };
        var format = new Option<string>("--format") { Description = "Output format: jsonl (one JSON array per line), csv, npy.", DefaultValueFactory = _ => "jsonl" };
        var output = new Option<string?>("--output") { Description = "Output file (default: stdout)." };
        var noTruncate = new Option<bool>("--no-truncate") { Description = "Refuse inputs longer than the model's limit instead of truncating them." };
        var precision = new Option<string>("--precision")
        {
            Description = "Output precision (sentence-transformers' quantize_embeddings): float32, int8, uint8 (per-dimension ranges), binary, ubinary (sign bits, 8 a byte).",
            DefaultValueFactory = _ => "float32",
        };
        var calibration = new Option<string?>("--calibration")
        {
            Description = "int8/uint8: calibration embeddings (.npy float matrix, or JSON/JSONL float arrays) whose per-dimension min/max set the ranges; default: the embedded batch itself.",
        };
        var command = new Command("embed", "Embed texts (or token ids) and print one vector per input line.");
        foreach (var o in new Option[] { model, input, jsonl, ids, promptName, task, prompt, title, dims, noNorm, batch, threads, format, output, noTruncate, precision, calibration, verbose })
        {
            command.Options.Add(o);
        }
        command.SetAction(async (ParseResult p, CancellationToken ct) =>
        {
            var fmt = p.GetValue(format)!;
            if (fmt is not ("jsonl" or "csv" or "npy"))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--format must be jsonl, csv or npy, got '{fmt}'.");
            }
            var outputPrecision = EmbeddingPrecisions.Parse(p.GetValue(precision), "--precision");
            var calibrationPath = p.GetValue(calibration);
            if (calibrationPath is not null && !outputPrecision.NeedsRanges())
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--calibration sets int8/uint8 ranges; it does not apply to --precision {outputPrecision.Name()}.");
            }
            // Read before the model loads: a bad calibration file fails fast.
            var ranges = calibrationPath is null ? null : QuantizationRanges.FromEmbeddings(CliCalibration.Read(calibrationPath), calibrationPath);
            var chosen = new[] { p.GetValue(promptName) is not null, p.GetValue(task) is not null, p.GetValue(prompt) is not null }.Count(b => b);
            if (chosen > 1)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "Give at most one of --prompt-name, --task and --prompt.");
            }
            if (p.GetValue(ids) && (chosen > 0 || p.GetValue(title) is not null || p.GetValue(jsonl)))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "--ids takes token ids as given: it cannot be combined with --jsonl, a prompt or a title.");
            }
            var options = new EncodeOptions
            {
                PromptName = p.GetValue(promptName),
                Task = p.GetValue(task),
                Prompt = p.GetValue(prompt),
                Title = p.GetValue(title),
                Dimensions = p.GetValue(dims),
                Normalize = !p.GetValue(noNorm),
                Truncate = !p.GetValue(noTruncate),
                BatchSize = p.GetValue(batch),
            };
            // The output is created before any work: an unwritable path fails now, not after every vector was computed.
            var outputPath = p.GetValue(output);
            var created = outputPath is not null and not "-" && !File.Exists(outputPath);
            var stream = CliFiles.CreateOutput(outputPath);
            var done = false;
            try
            {
                var lines = await CliFiles.ReadLinesAsync(p.GetValue(input), ct).ConfigureAwait(false);
                for (var i = 0; i < lines.Count; i++)
                {
                    // The HTTP service refuses empty strings; so does the CLI, for plain lines, --jsonl and --ids alike.
                    if (string.IsNullOrWhiteSpace(lines[i]))
                    {
                        throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"line {i + 1}: empty input line; every line must hold {(p.GetValue(ids) ? "a JSON array of token ids" : p.GetValue(jsonl) ? "a JSON value with text" : "text")}.");
                    }
                }
                var clock = System.Diagnostics.Stopwatch.StartNew();
                using var m = EmbeddingGemmaModel.Load(p.GetValue(model)!, CliModels.LoadOptions(p.GetValue(threads)), ct);
                CliModels.ReleaseLoadGarbage();
                if (m.Tokenizer is null && !p.GetValue(ids))
                {
                    throw new EmbeddingGemmaException(ErrorKind.NotFound,
                        $"{m.Source}: the model has no tokenizer (no tokenizer.json beside it and no GGUF vocabulary); add tokenizer.json or give token ids with --ids.") { FilePath = m.Source };
                }
                var loadSeconds = clock.Elapsed.TotalSeconds;
                float[][] vectors;
                if (p.GetValue(ids))
                {
                    var seqs = lines.Select((l, i) => ParseIds(l, i + 1)).ToList();
                    vectors = m.EncodeTokenIds(seqs, options, null, ct);
                }
                else if (p.GetValue(jsonl))
                {
                    var parsed = lines.Select((l, i) => ParseJsonLine(l, i + 1)).ToList();
                    var inputs = parsed.Select(x => m.Tokenize(x.Text, options with { Title = x.Title ?? options.Title })).ToList();
                    vectors = m.EmbedTokenized(inputs, options, null, ct).Select(r => r.Vector).ToArray();
                }
                else
                {
                    vectors = m.Encode(lines, options, null, ct);
                }
                CliVectors.RequireFinite(vectors, m);
                if (outputPrecision == EmbeddingPrecision.Float32)
                {
                    await WriteAsync(vectors, fmt, stream, ct).ConfigureAwait(false);
                }
                else
                {
                    if (ranges is not null && vectors.Length > 0 && ranges.Dimensions != vectors[0].Length)
                    {
                        throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                            $"{calibrationPath}: the calibration vectors have {ranges.Dimensions} dimensions; the embeddings have {vectors[0].Length} (match --dimensions).") { FilePath = calibrationPath };
                    }
                    if (outputPrecision.NeedsRanges() && ranges is null && vectors.Length < 100)
                    {
                        // sentence-transformers warns below 100 embeddings too.
                        Console.Error.WriteLine($"warning: {outputPrecision.Name()} ranges computed from the {vectors.Length} embedded input{(vectors.Length == 1 ? "" : "s")} (min/max per dimension); " +
                            "ranges are more stable from more embeddings: pass --calibration FILE" + (vectors.Length == 1 ? " (one input gives all zeros)." : "."));
                    }
                    var quantized = EmbeddingQuantizer.Quantize(vectors, outputPrecision, ranges);
                    if (quantized.ValuesOutsideRange > 0 && ranges is not null)
                    {
                        Console.Error.WriteLine($"warning: {quantized.ValuesOutsideRange} value{(quantized.ValuesOutsideRange == 1 ? "" : "s")} fell outside the calibration ranges of {calibrationPath} and wrapped around (as sentence-transformers' numpy cast does).");
                    }
                    await WriteAsync(quantized, fmt, stream, ct).ConfigureAwait(false);
                }
                done = true;
                if (p.GetValue(verbose))
                {
                    var engine = m.Encoder is EmbeddingGemma.Model.Fast.FastSequenceEncoder ? "fast engine" : m.Encoder.GetType().Name;
                    Console.Error.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"embed: {vectors.Length} vectors of {(vectors.Length > 0 ? vectors[0].Length : m.Dimensions)} from {m.Source}: {m.WeightType} weights ({m.WeightSource.Format}) in the {engine}, {m.Threads} thread{(m.Threads == 1 ? "" : "s")}, kernels {EmbeddingGemma.Numerics.KernelCatalog.Default.Description}; load {loadSeconds:F2} s, total {clock.Elapsed.TotalSeconds:F2} s"));
                }
            }
            finally
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                if (!done && created)
                {
                    File.Delete(outputPath!);   // no empty or partial file left behind by a failed run
                }
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    private static int[] ParseIds(string line, int lineNo)
    {
        try
        {
            var ids = JsonSerializer.Deserialize<int[]>(line) ?? throw new JsonException("null");
            return ids.Length > 0 ? ids : throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"line {lineNo}: empty token id array; every line needs at least one id.");
        }
        catch (JsonException e)
        {
            throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"line {lineNo}: expected a JSON array of token ids, e.g. [2, 9259, 1902, 1] ({e.Message}).");
        }
    }

    private static (string Text, string? Title) ParseJsonLine(string line, int lineNo)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            string? text = null, title = null;
            if (r.ValueKind == JsonValueKind.String)
            {
                text = Utf8LineReader.GetJsonString(r, lineNo, "(the line's string)");
            }
            else if (r.ValueKind == JsonValueKind.Object && r.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String)
            {
                text = Utf8LineReader.GetJsonString(t, lineNo, "\"text\"");
                title = r.TryGetProperty("title", out var ti) && ti.ValueKind == JsonValueKind.String ? Utf8LineReader.GetJsonString(ti, lineNo, "\"title\"") : null;
            }
            if (text is not null)
            {
                return string.IsNullOrWhiteSpace(text)
                    ? throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"line {lineNo}: the text is empty; every input must contain text.")
                    : (text, title);
            }
        }
        catch (JsonException)
        {
        }
        throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"line {lineNo}: expected a JSON string or an object with a \"text\" string.");
    }

    internal static async Task WriteAsync(float[][] vectors, string format, Stream stream, CancellationToken ct)
    {
        if (format == "npy")
        {
            WriteNpy(stream, vectors);
            return;
        }
        await using var w = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
        var sb = new StringBuilder();
        foreach (var v in vectors)
        {
            sb.Clear();
            if (format == "jsonl")
            {
                sb.Append('[');
            }
            for (var i = 0; i < v.Length; i++)
            {
                if (i > 0)
                {
                    sb.Append(',');
                }
                sb.Append(v[i].ToString("R", CultureInfo.InvariantCulture));
            }
            if (format == "jsonl")
            {
                sb.Append(']');
            }
            await w.WriteLineAsync(sb, ct).ConfigureAwait(false);
        }
    }

    private static void WriteNpy(Stream s, float[][] vectors)
    {
        var q = EmbeddingQuantizer.Quantize(vectors, EmbeddingPrecision.Float32);
        NpyFile.Write(s, "<f4", vectors.Length, vectors.Length == 0 ? 0 : vectors[0].Length, q.Data);
    }

    /// <summary>Quantized rows: integer JSON arrays / CSV lines, or a .npy of the precision's dtype ([n, dim] or [n, ceil(dim/8)]).</summary>
    internal static async Task WriteAsync(QuantizedEmbeddings q, string format, Stream stream, CancellationToken ct)
    {
        if (format == "npy")
        {
            NpyFile.Write(stream, q.Precision.NumpyDescr(), q.Count, q.RowLength, q.Data);
            return;
        }
        await using var w = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true);
        var sb = new StringBuilder();
        for (int r = 0; r < q.Count; r++)
        {
            sb.Clear();
            var row = q.IntegerRow(r);
            if (format == "jsonl")
            {
                sb.Append('[');
            }
            for (var i = 0; i < row.Length; i++)
            {
                if (i > 0)
                {
                    sb.Append(',');
                }
                sb.Append(row[i].ToString(CultureInfo.InvariantCulture));
            }
            if (format == "jsonl")
            {
                sb.Append(']');
            }
            await w.WriteLineAsync(sb, ct).ConfigureAwait(false);
        }
    }
}
