using System.CommandLine;
using EmbeddingGemma.Model;

namespace EmbeddingGemma.Cli.Commands;

/// <summary><c>convert</c>: Hugging Face folder &lt;-&gt; GGUF (F32, F16, BF16; Q8_0/Q4_0 for GGUF), Dense heads included; EmbeddingGemma 2 too.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Input: model folder or .gguf file.", Required = true };
        var output = new Option<string>("--out") { Description = "Output: a .gguf file, or a folder for the Hugging Face layout.", Required = true };
        var type = new Option<string>("--type") { Description = "Stored type: F32, F16, BF16 (GGUF also Q8_0, Q4_0).", DefaultValueFactory = _ => "F32" };
        var command = new Command("convert", "Convert between a Hugging Face / sentence-transformers folder and GGUF.");
        command.Options.Add(model);
        command.Options.Add(output);
        command.Options.Add(type);
        command.SetAction((ParseResult p) =>
        {
            var t = MakeModelCommand.ParseType(p.GetValue(type)!, "--type");
            var outPath = p.GetValue(output)!;
            CliFiles.CheckOutputPath(outPath, folder: !outPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase), "--out");
            var ckpt = ModelCheckpoints.Read(p.GetValue(model)!);   // either architecture (EmbeddingGemma 2: norms raw in both formats)
            if (outPath.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
            {
                ckpt.WriteGguf(outPath, t);
            }
            else
            {
                if (ckpt.TokenizerJson is null)
                {
                    Console.Error.WriteLine("warning: the GGUF has no tokenizer vocabulary and no tokenizer.json beside it; the folder gets none (give it one before encoding text).");
                }
                ckpt.WriteHuggingFaceFolder(outPath, t);
            }
            Console.Error.WriteLine($"wrote {Path.GetFullPath(outPath)}");
            return ExitCodes.Ok;
        });
        return command;
    }
}
