using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model;

namespace EmbeddingGemma.Tests.Embeddings;

/// <summary>The C# example of README "## Library API", verbatim between the markers.</summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public void ReadmeLibraryExampleRuns()
    {
        // README-BEGIN
        // A random model of the real architecture (no download); use your model folder, .gguf or hub id instead.
        var folder = Path.Combine(Path.GetTempPath(), "tiny-embeddinggemma");
        RandomModel.Create("tiny", seed: 42).WriteHuggingFaceFolder(folder);

        using var model = EmbeddingGemmaModel.Load(folder);
        float[] query = model.EncodeQuery("Which planet is known as the Red Planet?");   // "task: search result | query: ..."
        float[][] docs = model.EncodeDocument(
        [
            "Venus is often called Earth's twin because of its similar size and proximity.",
            "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
        ]);                                                                                 // "title: none | text: ..."
        float[,] scores = EmbeddingGemmaModel.Similarity([query], docs);                  // cosine, [1, 2]
        float[] small = model.Encode("Red planet?", new EncodeOptions { Task = "qa_query", Dimensions = 32 }); // Matryoshka
        var detailed = model.EncodeDetailed(["a very long text ..."]);                     // vector, token count, truncated?
        Console.WriteLine($"{scores[0, 0]:F4} {scores[0, 1]:F4} {small.Length} {detailed[0].TokenCount}");
        // README-END
        Assert.Equal(2, scores.GetLength(1));
        Assert.Equal(32, small.Length);
        Assert.Equal(model.Dimensions, query.Length);
        var readme = File.ReadAllText(Path.Combine(EmbeddingGemma.Testing.TestPaths.RepoRoot, "README.md"));
        var source = File.ReadAllText(Path.Combine(EmbeddingGemma.Testing.TestPaths.RepoRoot, "tests/EmbeddingGemma.Tests/Embeddings/ReadmeExampleTests.cs"));
        var begin = source.IndexOf("// README-BEGIN", StringComparison.Ordinal);
        var end = source.IndexOf("        // README-END", StringComparison.Ordinal);
        var lines = source[begin..end].Split('\n').Skip(1).Select(l => l.Length >= 8 ? l[8..] : l.Trim()).Where(l => l.Length > 0);
        foreach (var line in lines)
        {
            Assert.Contains(line.TrimEnd('\r'), readme, StringComparison.Ordinal);
        }
    }
}
