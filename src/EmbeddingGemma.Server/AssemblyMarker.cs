namespace EmbeddingGemma.Server;
internal static class AssemblyMarker { }
