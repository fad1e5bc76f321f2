using System.Diagnostics;
using EmbeddingGemma.Embeddings;
using EmbeddingGemma.Search.Clustering;
using EmbeddingGemma.Search.Index;
using EmbeddingGemma.Testing;

namespace EmbeddingGemma.Search.Tests;

/// <summary>The search stack on the real EmbeddingGemma pipeline, with a tiny random-weight model (no semantics, real prompts, tokenizer and pooling).</summary>
public sealed class ModelEndToEndTests : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("eg-search-model");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, true);
    }

    [Fact]
    public async Task Index_and_search_through_the_embeddinggemma_generator()
    {
        using var resolved = EmbeddingGeneratorFactory.Create(TinyModels.Default.Folder);
        var model = (EmbeddingGemmaModel)resolved.Generator.GetService(typeof(EmbeddingGemmaModel))!;
        var docs = DocumentReader.Read(Data.SotuCorpus).Take(3).Select(d => d with { Text = d.Text[..3000] }).ToList();
        var db = Path.Combine(_dir, "m.db");
        var chunking = resolved.Chunking(128, 16);
        using (var index = SemanticIndex.Open(db))
        {
            var engine = new SemanticSearchEngine(index, resolved.Generator, new SemanticSearchEngineOptions { Chunking = chunking, ModelSpec = resolved.ModelSpec });
            var r = await engine.IndexAsync(docs);
            Assert.Equal(3, r.Stored);
            Assert.Equal(model.Dimensions, index.Dimension);
            // Each chunk holds at most 128 tokens of the model's own tokenizer.
            foreach (var c in TextChunker.Split(docs[0].Text, chunking))
            {
                Assert.True(model.Tokenizer!.CountTokens(c.Text, addSpecialTokens: false) <= 128 + 2); // a substring can tokenize slightly differently at its edges
            }
            // The stored vector of a chunk is the model's document embedding of that chunk (title prompt).
            var chunk0 = TextChunker.Split(docs[1].Text, chunking)[0];
            var expected = model.EncodeDocument(chunk0.Text, docs[1].Title);
            var hits = index.Search(expected, new SearchOptions { TopK = 1, OneHitPerDocument = false });
            Assert.Equal(docs[1].Id, hits[0].DocumentId);
            Assert.Equal(0, hits[0].ChunkIndex);
            Assert.Equal(1f, hits[0].Score, 4);
            // A query is embedded with the query prompt: the engine's score equals the cosine of EncodeQuery with the stored vector.
            var qHits = await engine.SearchAsync("the militia and the frontier", new SearchOptions { TopK = 1, OneHitPerDocument = false });
            var q = model.EncodeQuery("the militia and the frontier");
            var stored = model.EncodeDocument(qHits[0].Text, qHits[0].Title);
            Assert.Equal(EmbeddingGemmaModel.Similarity(q, stored), qHits[0].Score, 4);
        }
        // Reopened with the same model spec: nothing to re-embed.
        using (var index = SemanticIndex.Open(db))
        {
            Assert.Equal(TinyModels.Default.Folder, index.GetInfo().ModelSpec);
            var engine = new SemanticSearchEngine(index, resolved.Generator, new SemanticSearchEngineOptions { Chunking = chunking });
            Assert.Equal(3, (await engine.IndexAsync(docs)).Unchanged);
        }
    }

    [Fact]
    public async Task Clustering_prompt_runs_through_the_model()
    {
        using var resolved = EmbeddingGeneratorFactory.Create(TinyModels.Default.Folder);
        var texts = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, "examples", "search", "article-texts.txt"));
        var result = await new TextClusterer(resolved.Generator, 3).ClusterAsync(texts);
        Assert.Equal(10, result.Labels.Length);
        Assert.Equal(3, result.Labels.Distinct().Count());
        Assert.All(result.Embeddings, e => Assert.Equal(1f, (float)Math.Sqrt(e.Sum(x => (double)x * x)), 4));
    }

    [Fact]
    public void Cli_index_and_search_with_a_model_folder()
    {
        var db = Path.Combine(_dir, "cli.db");
        var input = Path.Combine(TestPaths.RepoRoot, "examples", "search", "article-docs.jsonl");
        var (code, _, err) = RunCli("index", "--db", db, "--model", TinyModels.Default.Folder, "--input", input);
        Assert.True(code == 0, err);
        (code, var stdout, err) = RunCli("search", "--db", db, "--model", TinyModels.Default.Folder, "--query", "什么是文本嵌入模型?", "--top-k", "3", "--json");
        Assert.True(code == 0, err);
        using var json = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal(3, json.RootElement.GetProperty("results").GetArrayLength());
        (code, _, err) = RunCli("search", "--db", db, "--query", "x", "--top-k", "0");
        Assert.Equal(2, code);
        Assert.Contains("top-k", err, StringComparison.Ordinal);
    }

    internal static (int Code, string Stdout, string Stderr) RunCli(params string[] args)
    {
        var config = new DirectoryInfo(AppContext.BaseDirectory).Parent!.Name;
        var dll = Path.Combine(TestPaths.RepoRoot, "src", "EmbeddingGemma.Cli", "bin", config, "net10.0", "EmbeddingGemma.Cli.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stdout, stderr.Result);
    }
}
