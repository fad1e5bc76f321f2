using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Model.V2;
using EmbeddingGemma.Numerics;

namespace EmbeddingGemma.Model;

/// <summary>
/// A whole model in memory, of either architecture (<see cref="ModelCheckpoint"/> for EmbeddingGemma,
/// <see cref="ModelCheckpoint2"/> for EmbeddingGemma 2), that can be written as a Hugging Face folder or a GGUF. The
/// commands that rewrite weights (<c>convert</c>, <c>quantize</c>, <c>bench</c>) go through this one seam, so they
/// handle both architectures the same way.
/// </summary>
public interface IModelCheckpoint
{
    /// <summary><see cref="EmbeddingGemmaModel.ArchitectureV1"/> or <see cref="EmbeddingGemmaModel.ArchitectureV2"/>.</summary>
    string Architecture { get; }

    /// <summary>tokenizer.json text (null: none).</summary>
    string? TokenizerJson { get; }

    /// <summary>Writes a Hugging Face / sentence-transformers folder with weights stored as <paramref name="dtype"/> (F32, F16, BF16).</summary>
    void WriteHuggingFaceFolder(string folder, GgmlType dtype = GgmlType.F32);

    /// <summary>
    /// Writes a GGUF of the architecture's llama.cpp arch; <paramref name="type"/> is the matrices' type (F32, F16, BF16,
    /// Q8_0, Q4_0) and <paramref name="matrixType"/> (GGUF tensor name to type) overrides it per matrix.
    /// </summary>
    void WriteGguf(string path, GgmlType type = GgmlType.F32, Func<string, GgmlType>? matrixType = null);
}

/// <summary>Reading a checkpoint of whichever architecture the files hold.</summary>
public static class ModelCheckpoints
{
    /// <summary>
    /// Reads <paramref name="folderOrGguf"/> as <see cref="ModelCheckpoint2"/> when it holds EmbeddingGemma 2
    /// (<see cref="EmbeddingGemma2Weights.IsEmbeddingGemma2"/>), else as <see cref="ModelCheckpoint"/>.
    /// </summary>
    public static IModelCheckpoint Read(string folderOrGguf)
    {
        ArgumentException.ThrowIfNullOrEmpty(folderOrGguf);
        return EmbeddingGemma2Weights.IsEmbeddingGemma2(folderOrGguf) ? ModelCheckpoint2.Read(folderOrGguf) : ModelCheckpoint.Read(folderOrGguf);
    }

    /// <summary>A deterministic random model of <paramref name="architecture"/> (<c>embeddinggemma</c> or <c>embeddinggemma2</c>) and <paramref name="shape"/>.</summary>
    public static IModelCheckpoint Random(string architecture, string shape, int seed = 42) => architecture switch
    {
        EmbeddingGemmaModel.ArchitectureV1 => RandomModel.Create(shape, seed),
        EmbeddingGemmaModel.ArchitectureV2 => RandomModel2.Create(shape, seed),
        _ => throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
            $"Unknown architecture '{architecture}': expected {EmbeddingGemmaModel.ArchitectureV1} or {EmbeddingGemmaModel.ArchitectureV2}."),
    };
}
