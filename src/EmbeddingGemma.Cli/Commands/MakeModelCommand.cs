using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmbeddingGemma.Model;
using EmbeddingGemma.Model.V2;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Cli.Commands;

/// <summary><c>make-model</c>: a deterministic random EmbeddingGemma as a Hugging Face folder and/or a GGUF.</summary>
internal static class MakeModelCommand
{
    public static Command Create()
    {
        var arch = new Option<string>("--arch") { Description = "embeddinggemma (v1, 300M) or embeddinggemma2 (EmbeddingGemma 2 text model).", DefaultValueFactory = _ => "embeddinggemma" };
        var shape = new Option<string>("--shape") { Description = "tiny (hidden 64, 6 layers) or full (the real 300M shapes).", DefaultValueFactory = _ => "tiny" };
        var seed = new Option<int>("--seed") { Description = "Random seed.", DefaultValueFactory = _ => 42 };
        var outDir = new Option<string?>("--out") { Description = "Write a Hugging Face / sentence-transformers folder here." };
        var gguf = new Option<string?>("--gguf") { Description = "Write a GGUF file here." };
        var dtype = new Option<string>("--dtype") { Description = "Folder weight dtype: F32, F16, BF16.", DefaultValueFactory = _ => "F32" };
        var ggufType = new Option<string>("--gguf-type") { Description = "GGUF matrix type: F32, F16, BF16, Q8_0, Q4_0.", DefaultValueFactory = _ => "F32" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Copy this tokenizer.json (default: a small synthetic Gemma-style tokenizer)." };
        var set = new Option<string[]>("--set") { Description = "Config override KEY=VALUE with config.json names, e.g. --set num_hidden_layers=12 --set sliding_window=32.", AllowMultipleArgumentsPerToken = true };
        var dense = new Option<int?>("--dense-intermediate") { Description = "Output size of 2_Dense (default 3072 full, 4*hidden tiny)." };
        var command = new Command("make-model", "Generate a deterministic random EmbeddingGemma (v1 or, with --arch embeddinggemma2, EmbeddingGemma 2) model (Hugging Face folder and/or GGUF).");
        foreach (var o in new Option[] { arch, shape, seed, outDir, gguf, dtype, ggufType, tokenizer, set, dense })
        {
            command.Options.Add(o);
        }
        command.SetAction((ParseResult p) =>
        {
            var outPath = p.GetValue(outDir);
            var ggufPath = p.GetValue(gguf);
            if (outPath is null && ggufPath is null)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "Give --out DIR and/or --gguf FILE.");
            }
            // Checked before any work; the weight files are then written through temporary files renamed into place,
            // so a model in use (memory-mapped by a server) keeps its bytes and a failure leaves no torn file.
            if (outPath is not null)
            {
                CliFiles.CheckOutputPath(outPath, folder: true, "--out");
            }
            if (ggufPath is not null)
            {
                CliFiles.CheckOutputPath(ggufPath, folder: false, "--gguf");
            }
            var overrides = p.GetValue(set) ?? [];
            switch (p.GetValue(arch))
            {
                case "embeddinggemma":
                    break;
                case "embeddinggemma2":
                    if (p.GetValue(dense) is not null)
                    {
                        throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, "--dense-intermediate: EmbeddingGemma 2 has no Dense modules.");
                    }
                    var ckpt2 = RandomModel2.Create(p.GetValue(shape)!, p.GetValue(seed), c => ApplyOverrides2(c, overrides), p.GetValue(tokenizer));
                    if (outPath is not null)
                    {
                        ckpt2.WriteHuggingFaceFolder(outPath, ParseType(p.GetValue(dtype)!, "--dtype"));
                        Console.Error.WriteLine($"wrote {Path.GetFullPath(outPath)}");
                    }
                    if (ggufPath is not null)
                    {
                        ckpt2.WriteGguf(ggufPath, ParseType(p.GetValue(ggufType)!, "--gguf-type"));
                        Console.Error.WriteLine($"wrote {Path.GetFullPath(ggufPath)}");
                    }
                    return ExitCodes.Ok;
                default:
                    throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--arch must be embeddinggemma or embeddinggemma2, got '{p.GetValue(arch)}'.");
            }
            var ckpt = RandomModel.Create(p.GetValue(shape)!, p.GetValue(seed), c => ApplyOverrides(c, overrides), p.GetValue(tokenizer), p.GetValue(dense));
            if (outPath is not null)
            {
                ckpt.WriteHuggingFaceFolder(outPath, ParseType(p.GetValue(dtype)!, "--dtype"));
                Console.Error.WriteLine($"wrote {Path.GetFullPath(outPath)}");
            }
            if (ggufPath is not null)
            {
                ckpt.WriteGguf(ggufPath, ParseType(p.GetValue(ggufType)!, "--gguf-type"));
                Console.Error.WriteLine($"wrote {Path.GetFullPath(ggufPath)}");
            }
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static GgmlType ParseType(string s, string option) =>
        Enum.TryParse<GgmlType>(s, ignoreCase: true, out var t) && t is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0 or GgmlType.Q4_0
            ? t
            : throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"{option} must be F32, F16, BF16, Q8_0 or Q4_0, got '{s}'.");

    /// <summary>Applies KEY=VALUE overrides to an EmbeddingGemma 2 config by text_config field name (values parsed as JSON, else strings).</summary>
    internal static EmbeddingGemma2Config ApplyOverrides2(EmbeddingGemma2Config config, IReadOnlyList<string> overrides)
    {
        if (overrides.Count == 0)
        {
            return config;
        }
        var root = JsonNode.Parse(config.ToJson())!.AsObject();
        var node = root["text_config"]!.AsObject();
        foreach (var o in overrides)
        {
            var eq = o.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--set expects KEY=VALUE, got '{o}'.");
            }
            var key = o[..eq];
            var value = o[(eq + 1)..];
            if (!node.ContainsKey(key) && key is not ("per_layer_config" or "rope_parameters"))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Unknown config field '{key}'. Valid fields: {string.Join(", ", node.Select(kv => kv.Key))}.");
            }
            JsonNode? v;
            try
            {
                v = JsonNode.Parse(value);
            }
            catch (JsonException)
            {
                v = JsonValue.Create(value);
            }
            node[key] = v;
        }
        if (overrides.Any(o => o.StartsWith("num_hidden_layers=", StringComparison.Ordinal)) && !overrides.Any(o => o.StartsWith("layer_types=", StringComparison.Ordinal)))
        {
            node.Remove("layer_types");
        }
        return EmbeddingGemma2Config.FromJson(root.ToJsonString(), "--set overrides");
    }

    /// <summary>Applies KEY=VALUE overrides by config.json field name (values parsed as JSON, else as strings).</summary>
    internal static GemmaConfig ApplyOverrides(GemmaConfig config, IReadOnlyList<string> overrides)
    {
        if (overrides.Count == 0)
        {
            return config;
        }
        var node = JsonNode.Parse(config.ToJson())!.AsObject();
        foreach (var o in overrides)
        {
            var eq = o.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"--set expects KEY=VALUE, got '{o}'.");
            }
            var key = o[..eq];
            var value = o[(eq + 1)..];
            if (!node.ContainsKey(key))
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument, $"Unknown config field '{key}'. Valid fields: {string.Join(", ", node.Select(kv => kv.Key))}.");
            }
            JsonNode? v;
            try
            {
                v = JsonNode.Parse(value);
            }
            catch (JsonException)
            {
                v = JsonValue.Create(value);
            }
            node[key] = v;
        }
        if (overrides.Any(o => o.StartsWith("num_hidden_layers=", StringComparison.Ordinal) || o.StartsWith("_sliding_window_pattern=", StringComparison.Ordinal))
            && !overrides.Any(o => o.StartsWith("layer_types=", StringComparison.Ordinal)))
        {
            node.Remove("layer_types");
        }
        return GemmaConfig.FromJson(node.ToJsonString(), "--set overrides");
    }
}
