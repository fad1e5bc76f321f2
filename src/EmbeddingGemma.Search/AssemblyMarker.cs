namespace EmbeddingGemma.Search;
internal static class AssemblyMarker { }
