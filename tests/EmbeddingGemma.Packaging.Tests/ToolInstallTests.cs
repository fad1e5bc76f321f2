using EmbeddingGemma.Embeddings;

namespace EmbeddingGemma.Packaging.Tests;

/// <summary>
/// What the tool package's README tells a user to do: `dotnet tool install` from the feed into a temp folder, make a
/// tiny random model, `embed`. The installed tool's vectors are compared with the library in this process.
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class ToolInstallTests(PackageFeed feed)
{
    [Fact]
    public void ToolInstalledFromTheLocalFeedEmbedsLikeTheLibrary()
    {
        var tmp = Proc.TempDir("tool");
        try
        {
            // a private package folder: a package cached by an earlier pack of the same version is never reused
            var env = new Dictionary<string, string> { ["NUGET_PACKAGES"] = Path.Combine(tmp, "nuget-packages") };
            var tools = Path.Combine(tmp, "tools");
            var install = Proc.Run("dotnet", ["tool", "install", "--tool-path", tools, "--add-source", feed.Feed,
                PackageFeed.IdOf("EmbeddingGemma.Cli"), "--version", feed.Version], tmp, env);
            Assert.True(install.ExitCode == 0, $"dotnet tool install failed ({install.ExitCode}):\n{install.StdOut}\n{install.StdErr}");
            var exe = Path.Combine(tools, "embeddinggemma");
            Assert.True(File.Exists(exe), "the tool command 'embeddinggemma' was not installed: " + exe);

            var version = Proc.Run(exe, ["version"], tmp);
            Assert.Equal(0, version.ExitCode);
            Assert.Contains(feed.Version, version.StdOut, StringComparison.Ordinal);

            // the package README's commands
            var model = Path.Combine(tmp, "tiny-model");
            var make = Proc.Run(exe, ["make-model", "--shape", "tiny", "--out", model], tmp);
            Assert.True(make.ExitCode == 0, $"make-model failed ({make.ExitCode}): {make.StdErr}");
            string[] texts = ["hello world", "Which planet is known as the Red Planet?"];
            var embed = Proc.Run(exe, ["embed", "--model", model, "--task", "retrieval_query", "--dimensions", "8"], tmp,
                stdin: string.Join('\n', texts) + "\n");
            Assert.True(embed.ExitCode == 0, $"embed failed ({embed.ExitCode}): {embed.StdErr}");
            var got = Proc.Vectors(embed.StdOut);

            // oracle: the library in this process on the same files. The tool prints shortest round-trip floats, so
            // the vectors agree to float precision (tolerance 1e-6 absolute on unit vectors).
            using var lib = EmbeddingGemmaModel.Load(model);
            var want = lib.Encode(texts, new EncodeOptions { Task = "retrieval_query", Dimensions = 8 });
            Assert.Equal(texts.Length, got.Length);
            for (var i = 0; i < texts.Length; i++)
            {
                Assert.Equal(8, got[i].Length);
                Assert.True(Proc.MaxAbsDiff(want[i], got[i]) <= 1e-6, $"text {i}: tool and library differ by {Proc.MaxAbsDiff(want[i], got[i])}");
            }

            // a bad model path: one error line and the documented exit code 3 (a file is missing)
            var empty = Directory.CreateDirectory(Path.Combine(tmp, "empty-model")).FullName;
            var bad = Proc.Run(exe, ["embed", "--model", empty], tmp, stdin: "hello\n");
            Assert.Equal(3, bad.ExitCode);
            var lines = bad.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Single(lines);
            Assert.StartsWith("error:", lines[0], StringComparison.Ordinal);
        }
        finally
        {
            Proc.TryDelete(tmp);
        }
    }
}
