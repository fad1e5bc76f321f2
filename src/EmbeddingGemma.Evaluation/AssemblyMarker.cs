namespace EmbeddingGemma.Evaluation;
internal static class AssemblyMarker { }
