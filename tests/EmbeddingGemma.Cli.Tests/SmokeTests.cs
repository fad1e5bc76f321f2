namespace EmbeddingGemma.Cli.Tests;

public class ProjectSmokeTests
{
    [Fact]
    public void Test_project_sees_the_repository()
    {
        Assert.True(File.Exists(Path.Combine(EmbeddingGemma.Testing.TestPaths.RepoRoot, "global.json")));
    }
}
