// EmbeddingGemma in a native AOT executable: loads a model (folder or .gguf) and prints, for each text argument, its
// query embedding as one JSON array, first through EmbeddingGemmaModel.EncodeQuery and then through the
// Microsoft.Extensions.AI generator; the last line says whether the process runs native code only ("native-aot").
//   dotnet publish examples/aot -c Release -r linux-x64 -o /tmp/aot && /tmp/aot/EmbeddingGemma.AotSample MODEL "some text"
using System.Globalization;
using System.Runtime.CompilerServices;
using EmbeddingGemma.Embeddings;
using Microsoft.Extensions.AI;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: EmbeddingGemma.AotSample MODEL TEXT [TEXT...]");
    return 2;
}

using var model = EmbeddingGemmaModel.Load(args[0]);
var texts = args[1..];
foreach (var text in texts)
{
    Console.WriteLine(Json(model.EncodeQuery(text)));
}

using var generator = new EmbeddingGemmaGenerator(model);
var options = new EmbeddingGenerationOptions { AdditionalProperties = new() { ["prompt_name"] = "query" } };
foreach (var embedding in await generator.GenerateAsync(texts, options).ConfigureAwait(false))
{
    Console.WriteLine(Json(embedding.Vector.Span));
}

Console.WriteLine(RuntimeFeature.IsDynamicCodeSupported ? "jit" : "native-aot");
return 0;

static string Json(ReadOnlySpan<float> vector)
{
    var parts = new string[vector.Length];
    for (var i = 0; i < vector.Length; i++)
    {
        parts[i] = vector[i].ToString("R", CultureInfo.InvariantCulture);
    }
    return "[" + string.Join(",", parts) + "]";
}
