using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using EmbeddingGemma.Formats;
using EmbeddingGemma.Model;
using EmbeddingGemma.Model.V2;

namespace EmbeddingGemma.Cli.Commands;

/// <summary><c>info</c>: config, tensor count, dtypes and file sizes of a model as JSON (headers only, no weights read).</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model folder or .gguf file.", Required = true };
        var command = new Command("info", "Print a model's config, tensor count, dtypes and file sizes as JSON.");
        command.Options.Add(model);
        command.SetAction((ParseResult p) =>
        {
            Console.WriteLine(Describe(p.GetValue(model)!).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            return ExitCodes.Ok;
        });
        return command;
    }

    internal static JsonObject Describe(string path)
    {
        if (EmbeddingGemma2Weights.IsEmbeddingGemma2(path))
        {
            return DescribeGemma2(path);
        }
        var files = new List<ITensorFile>();
        try
        {
            GemmaConfig config;
            string format;
            if (File.Exists(path))
            {
                var g = GgufFile.Open(path);
                files.Add(g);
                config = ModelWeights.ConfigFromGguf(g);
                format = $"gguf v{g.Version}";
            }
            else if (Directory.Exists(path))
            {
                config = GemmaConfig.FromFile(Path.Combine(path, "config.json"));
                format = "huggingface";
                foreach (var f in new[] { "model.safetensors", "2_Dense/model.safetensors", "3_Dense/model.safetensors" })
                {
                    var full = Path.Combine(path, f);
                    if (File.Exists(full))
                    {
                        files.Add(SafetensorsFile.Open(full));
                    }
                }
            }
            else
            {
                throw new EmbeddingGemmaException(ErrorKind.NotFound, $"Model not found: {Path.GetFullPath(path)}") { FilePath = path };
            }
            var tensors = files.SelectMany(f => f.Tensors.Values).ToList();
            var dtypes = new JsonObject();
            foreach (var g in tensors.GroupBy(t => t.Type.ToString()).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                dtypes[g.Key] = g.Count();
            }
            var hasDense = tensors.Any(t => t.Name is "dense_2.weight") || files.Any(f => f.Path.Contains("2_Dense", StringComparison.Ordinal));
            return new JsonObject
            {
                ["source"] = Path.GetFullPath(path),
                ["architecture"] = "embeddinggemma",
                ["format"] = format,
                ["config"] = JsonNode.Parse(config.ToJson()),
                ["tensor_count"] = tensors.Count,
                ["parameters"] = tensors.Sum(t => t.ElementCount),
                ["dtypes"] = dtypes,
                ["dense_heads"] = hasDense,
                ["files"] = new JsonArray(files.Select(f => (JsonNode)new JsonObject { ["path"] = f.Path, ["bytes"] = new FileInfo(f.Path).Length, ["tensors"] = f.Tensors.Count }).ToArray()),
            };
        }
        finally
        {
            foreach (var f in files)
            {
                f.Dispose();
            }
        }
    }

    // EmbeddingGemma 2: the config, the text tensors (towers skipped and counted), parameters of the text model.
    private static JsonObject DescribeGemma2(string path)
    {
        using var files = WeightFiles.Open(path);
        var config = files.Gguf is { } g ? EmbeddingGemma2Weights.ConfigFromGguf(g) : EmbeddingGemma2Config.FromFile(Path.Combine(path, "config.json"));
        var tensors = files.Tensors.Values.ToList();
        var dtypes = new JsonObject();
        foreach (var group in tensors.GroupBy(t => t.Type.ToString()).OrderBy(x => x.Key, StringComparer.Ordinal))
        {
            dtypes[group.Key] = group.Count();
        }
        return new JsonObject
        {
            ["source"] = Path.GetFullPath(path),
            ["architecture"] = "embeddinggemma2",
            ["format"] = files.Gguf is { } gg ? $"gguf v{gg.Version}" : "huggingface",
            ["config"] = JsonNode.Parse(config.ToJson()),
            ["tensor_count"] = tensors.Count,
            ["parameters"] = tensors.Sum(t => t.ElementCount),
            ["parameters_expected"] = config.ParameterCount,
            ["skipped_tensors"] = files.Skipped.Count,
            ["dtypes"] = dtypes,
            ["dense_heads"] = false,
            ["max_tokens"] = config.MaxTokens,
            ["files"] = new JsonArray(files.Paths.Select(f => (JsonNode)new JsonObject { ["path"] = f, ["bytes"] = new FileInfo(f).Length }).ToArray()),
        };
    }
}
