using System.Globalization;
using System.Text.RegularExpressions;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Packaging.Tests;

/// <summary>
/// The core package's README quick start (docs/nuget/EmbeddingGemma.md, the first csharp block) compiled as a new
/// console app that references ManagedEmbeddingGemma from the local feed, run on a tiny random model, and its output
/// compared with the same calls made through the library in this process.
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed partial class QuickStartTests(PackageFeed feed)
{
    [Fact]
    public void PackageReadmeQuickStartBuildsAgainstThePackageAndRuns()
    {
        var readme = File.ReadAllText(Path.Combine(feed.Root, "docs", "nuget", "EmbeddingGemma.md"));
        var code = CSharpBlock().Match(readme);
        Assert.True(code.Success, "docs/nuget/EmbeddingGemma.md has no ```csharp block");

        var tmp = Proc.TempDir("quickstart");
        try
        {
            var app = Directory.CreateDirectory(Path.Combine(tmp, "app")).FullName;
            File.WriteAllText(Path.Combine(app, "Program.cs"), code.Groups[1].Value);
            File.WriteAllText(Path.Combine(app, "QuickStart.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="{PackageFeed.IdOf("EmbeddingGemma")}" Version="{feed.Version}" />
                  </ItemGroup>
                </Project>
                """);
            // the feed beside the machine's configured sources (the library's dependencies come from there)
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="embeddinggemma-local" value="{feed.Feed}" />
                  </packageSources>
                </configuration>
                """);
            var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(tmp, "nuget-packages") };
            var model = TinyModels.Default.Folder;
            var run = Proc.Run("dotnet", ["run", "-c", "Release", "--", model], app, env);
            Assert.True(run.ExitCode == 0, $"the quick start failed ({run.ExitCode}):\n{run.StdOut}\n{run.StdErr}");

            // the same calls through the library in this process
            using var lib = EmbeddingGemmaModel.Load(model);
            var query = lib.EncodeQuery("Which planet is known as the Red Planet?");
            var docs = lib.EncodeDocument(
            [
                "Venus is often called Earth's twin because of its similar size and proximity.",
                "Mars, known for its reddish appearance, is often referred to as the Red Planet.",
            ]);
            var scores = EmbeddingGemmaModel.Similarity([query], docs);
            var lines = run.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal(2, lines.Length);
            var f = lines[0].Split(' ');
            Assert.Equal(4, f.Length);
            Assert.Equal(query.Length, int.Parse(f[0], CultureInfo.InvariantCulture));
            // printed with 4 decimals: agreement to 1e-4 (plus rounding) with the in-process cosine
            Assert.InRange(double.Parse(f[1], CultureInfo.InvariantCulture), scores[0, 0] - 1.5e-4, scores[0, 0] + 1.5e-4);
            Assert.InRange(double.Parse(f[2], CultureInfo.InvariantCulture), scores[0, 1] - 1.5e-4, scores[0, 1] + 1.5e-4);
            Assert.Equal(32, int.Parse(f[3], CultureInfo.InvariantCulture)); // the Matryoshka size the quick start asks for
            Assert.Equal(query.Length.ToString(CultureInfo.InvariantCulture), lines[1]); // the generator's full-size vector
        }
        finally
        {
            Proc.TryDelete(tmp);
        }
    }

    [GeneratedRegex("```csharp\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CSharpBlock();
}
