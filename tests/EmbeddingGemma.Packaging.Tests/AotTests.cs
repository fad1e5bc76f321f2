using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Packaging.Tests;

/// <summary>
/// examples/aot published with PublishAot (ILCompiler from the NuGet feed, clang/gcc and the linker of this Debian
/// machine) and run: trimming and AOT warnings are errors in that publish, and the native executable's vectors match
/// the library's.
/// </summary>
[Collection(PackageFeedCollection.Name)]
public sealed class AotTests(PackageFeed feed)
{
    [Fact]
    public void NativeAotSampleEmbedsLikeTheLibrary()
    {
        var tmp = Proc.TempDir("aot");
        try
        {
            var out_ = Path.Combine(tmp, "out");
            // --artifacts-path: the RID-specific build of the library goes to the scratch folder, not the checkout's obj/
            var publish = Proc.Run("dotnet", ["publish", Path.Combine(feed.Root, "examples", "aot", "EmbeddingGemma.AotSample.csproj"),
                "-c", "Release", "-r", "linux-x64", "-o", out_, "--artifacts-path", Path.Combine(tmp, "artifacts"), "-nologo"], feed.Root);
            Assert.True(publish.ExitCode == 0, $"native AOT publish failed ({publish.ExitCode}):\n{publish.StdOut}\n{publish.StdErr}");
            Assert.DoesNotContain("warning IL", publish.StdOut, StringComparison.Ordinal);
            var exe = Path.Combine(out_, "EmbeddingGemma.AotSample");
            Assert.True(File.Exists(exe), "no native executable: " + exe);
            Assert.False(File.Exists(Path.Combine(out_, "EmbeddingGemma.AotSample.dll")), "the publish produced IL, not a native executable");

            var model = TinyModels.Default.Folder;
            string[] texts = ["hello world", "Which planet is known as the Red Planet?"];
            var run = Proc.Run(exe, [model, .. texts], tmp);
            Assert.True(run.ExitCode == 0, $"the AOT sample failed ({run.ExitCode}): {run.StdErr}");
            Assert.Equal("native-aot", run.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)[^1]);
            var got = Proc.Vectors(run.StdOut);
            Assert.Equal(2 * texts.Length, got.Length);

            // oracle: the library under the JIT in this process. Native code may pick other SIMD widths than the JIT
            // (so other summation orders): agreement to 1e-4 absolute per component of the unit vectors.
            using var lib = EmbeddingGemmaModel.Load(model);
            for (var i = 0; i < texts.Length; i++)
            {
                var want = lib.EncodeQuery(texts[i]);
                Assert.True(Proc.MaxAbsDiff(want, got[i]) <= 1e-4, $"EncodeQuery text {i}: AOT and JIT differ by {Proc.MaxAbsDiff(want, got[i])}");
                // the Microsoft.Extensions.AI generator with prompt_name=query gives the same vector in the same process
                Assert.Equal(got[i], got[texts.Length + i]);
            }
        }
        finally
        {
            Proc.TryDelete(tmp);
        }
    }
}
