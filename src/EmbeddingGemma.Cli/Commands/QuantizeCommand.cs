using System.CommandLine;
using System.Text.Json;
using EmbeddingGemma.Model.Fast;

namespace EmbeddingGemma.Cli.Commands;

/// <summary><c>embeddinggemma quantize --model &lt;folder|gguf&gt; --type q8_0|q4_0|mixed --out FILE.gguf</c>.</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Hugging Face folder or .gguf file to quantize.", Required = true };
        var type = new Option<string>("--type") { Description = "q8_0, q4_0 or mixed (int4 embeddings/FFN/projections, int8 attention; norms and layer scalars F32; EmbeddingGemma 2's per_layer_model_proj BF16 as llama.cpp keeps it).", Required = true };
        var output = new Option<string>("--out") { Description = "Output GGUF path.", Required = true };
        var cmd = new Command("quantize", "Write a quantized GGUF of either architecture (loads in llama.cpp and in this library).");
        cmd.Options.Add(model);
        cmd.Options.Add(type);
        cmd.Options.Add(output);
        cmd.SetAction((ParseResult p, CancellationToken ct) =>
        {
            var scheme = ModelQuantizer.Parse(p.GetValue(type)!);
            var outPath = p.GetValue(output)!;
            CliFiles.CheckOutputPath(outPath, folder: false, "--out");
            var counts = ModelQuantizer.Quantize(p.GetValue(model)!, scheme, outPath);
            using var written = EmbeddingGemma.Formats.GgufFile.Open(outPath);
            var summary = new Dictionary<string, object>
            {
                ["architecture"] = written.TryGetString("general.architecture") ?? "",
                ["out"] = Path.GetFullPath(outPath),
                ["scheme"] = scheme.ToString(),
                ["bytes"] = new FileInfo(outPath).Length,
                ["tensors"] = counts.ToDictionary(kv => kv.Key.ToString(), kv => kv.Value),
            };
            Console.Out.WriteLine(JsonSerializer.Serialize(summary));
            return Task.FromResult(0);
        });
        return cmd;
    }
}
