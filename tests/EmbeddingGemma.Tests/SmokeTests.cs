namespace EmbeddingGemma.Tests;

public class ErrorKindTests
{
    [Fact]
    public void Exception_carries_kind_and_message()
    {
        var e = new EmbeddingGemmaException(ErrorKind.InvalidFormat, "bad header in x.gguf");
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains("x.gguf", e.Message, StringComparison.Ordinal);
    }
}
