using System.Text;
using System.Text.Json.Nodes;
using EmbeddingGemma.Testing;
using EmbeddingGemma.Tokenization;

namespace EmbeddingGemma.Tests.Tokenization;

/// <summary>Missing, truncated or malformed files give one clear error naming the file and what is wrong.</summary>
public class BadInputTests
{
    private static readonly string Good = SyntheticTokenizer.Build(40);

    private static EmbeddingGemmaException LoadFails(string json, ErrorKind kind, params string[] messageParts)
    {
        var path = SyntheticTokenizer.Write(json);
        try
        {
            var e = Assert.Throws<EmbeddingGemmaException>(() => GemmaTokenizer.FromFile(path));
            Assert.Equal(kind, e.Kind);
            Assert.Contains(path, e.Message, StringComparison.Ordinal);
            Assert.Equal(path, e.FilePath);
            foreach (var part in messageParts)
            {
                Assert.Contains(part, e.Message, StringComparison.Ordinal);
            }
            return e;
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    private static string Edit(Action<JsonObject> edit)
    {
        var root = JsonNode.Parse(Good)!.AsObject();
        edit(root);
        return root.ToJsonString();
    }

    [Fact]
    public void Missing_file_or_folder()
    {
        var missing = Path.Combine(TestPaths.NewTempDir(), "nope", "tokenizer.json");
        var e = Assert.Throws<EmbeddingGemmaException>(() => GemmaTokenizer.FromFile(missing));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);

        var emptyFolder = TestPaths.NewTempDir();
        e = Assert.Throws<EmbeddingGemmaException>(() => GemmaTokenizer.FromFile(emptyFolder));
        Assert.Equal(ErrorKind.NotFound, e.Kind);
        Assert.Contains("has no tokenizer.json", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Truncated_json_names_the_position()
    {
        foreach (var cut in new[] { 0, 1, 100, Good.Length / 2, Good.Length - 1 })
        {
            var e = LoadFails(Good[..cut], ErrorKind.InvalidFormat);
            Assert.Matches(cut == 0 ? "empty|malformed" : "malformed JSON at line", e.Message);
        }
    }

    [Fact]
    public void Truncated_real_file()
    {
        var bytes = File.ReadAllBytes(TestPaths.Gemma3TokenizerJson);
        var e = Assert.Throws<EmbeddingGemmaException>(() => GemmaTokenizer.FromUtf8Json(bytes.AsSpan(0, bytes.Length - 100)));
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains("tokenizer.json: malformed JSON at line", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Not_json_at_all()
    {
        LoadFails("PK\u0003\u0004 this is a zip", ErrorKind.InvalidFormat, "malformed JSON");
        LoadFails("[1, 2, 3]", ErrorKind.InvalidFormat, "$: expected a JSON object");
        LoadFails("{}", ErrorKind.InvalidFormat, "$.model");
    }

    [Fact]
    public void Wrong_structure_names_the_json_path()
    {
        LoadFails(Edit(r => r["model"]!["type"] = "Unigram"), ErrorKind.Unsupported, "$.model.type", "Unigram");
        LoadFails(Edit(r => r["model"]!.AsObject().Remove("type")), ErrorKind.InvalidFormat, "$.model.type", "missing");
        LoadFails(Edit(r => r["model"]!.AsObject().Remove("vocab")), ErrorKind.InvalidFormat, "$.model.vocab", "missing");
        LoadFails(Edit(r => r["model"]!["vocab"] = new JsonArray()), ErrorKind.InvalidFormat, "$.model.vocab", "expected an object");
        LoadFails(Edit(r => r["model"]!["vocab"]!["▁zzz"] = "seven"), ErrorKind.InvalidFormat, "$.model.vocab[\"▁zzz\"]");
        LoadFails(Edit(r => r["model"]!["vocab"]!["▁zzz"] = 5), ErrorKind.InvalidFormat, "$.model.vocab", "id 5");
        LoadFails(Edit(r => r["model"]!["merges"]!.AsArray().Add(new JsonArray("q", "qqq"))), ErrorKind.InvalidFormat, "$.model.merges[40]", "\"qqq\" is not in $.model.vocab");
        LoadFails(Edit(r => r["model"]!["merges"]!.AsArray().Add(42)), ErrorKind.InvalidFormat, "$.model.merges[40]", "found a number");
        LoadFails(Edit(r => r["model"]!["merges"]!.AsArray().Add("a")), ErrorKind.InvalidFormat, "$.model.merges[40]");
        LoadFails(Edit(r => r["model"]!["unk_token"] = "<nothing>"), ErrorKind.InvalidFormat, "$.model.unk_token");
        LoadFails(Edit(r => r["model"]!["dropout"] = 0.1), ErrorKind.Unsupported, "$.model.dropout");
        LoadFails(Edit(r => r["model"]!["continuing_subword_prefix"] = "##"), ErrorKind.Unsupported, "$.model.continuing_subword_prefix");
        LoadFails(Edit(r => r["normalizer"] = JsonNode.Parse("""{"type":"NFKC"}""")), ErrorKind.Unsupported, "$.normalizer.type", "NFKC");
        LoadFails(Edit(r => r.Remove("normalizer")), ErrorKind.InvalidFormat, "$.normalizer", "missing");
        LoadFails(Edit(r => r["pre_tokenizer"] = JsonNode.Parse("""{"type":"ByteLevel"}""")), ErrorKind.Unsupported, "$.pre_tokenizer");
        LoadFails(Edit(r => r["added_tokens"]![0]!.AsObject().Remove("id")), ErrorKind.InvalidFormat, "$.added_tokens[0].id", "missing");
        LoadFails(Edit(r => r["added_tokens"]![1]!["content"] = 7), ErrorKind.InvalidFormat, "$.added_tokens[1].content", "expected a string");
        LoadFails(Edit(r => r["added_tokens"]![2]!["id"] = 7), ErrorKind.InvalidFormat, "$.added_tokens[2]", "id 7", "id 2");
        LoadFails(Edit(r => r["added_tokens"]![2]!["special"] = "yes"), ErrorKind.InvalidFormat, "$.added_tokens[2].special", "expected a boolean");
    }

    [Fact]
    public void Malformed_config_names_that_file()
    {
        var path = SyntheticTokenizer.Write(Good, """{"add_bos_token": tru""");
        var e = Assert.Throws<EmbeddingGemmaException>(() => GemmaTokenizer.FromFile(path));
        Assert.Equal(ErrorKind.InvalidFormat, e.Kind);
        Assert.Contains("tokenizer_config.json", e.Message, StringComparison.Ordinal);
        File.WriteAllText(Path.Combine(Path.GetDirectoryName(path)!, "tokenizer_config.json"), """{"add_eos_token": "yes"}""");
        e = Assert.Throws<EmbeddingGemmaException>(() => GemmaTokenizer.FromFile(path));
        Assert.Contains("$.add_eos_token", e.Message, StringComparison.Ordinal);
        Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
    }

    [Fact]
    public void Bad_gguf_vocabulary()
    {
        var v = GemmaTokenizer.FromJson(Good).ToSentencePieceVocabulary();
        Assert.Equal(ErrorKind.InvalidFormat, Assert.Throws<EmbeddingGemmaException>(() => new GemmaTokenizer(v with { Scores = v.Scores.Take(3).ToArray() })).Kind);
        Assert.Equal(ErrorKind.Unsupported, Assert.Throws<EmbeddingGemmaException>(() => new GemmaTokenizer(v with { AddSpacePrefix = true })).Kind);
        Assert.Equal(ErrorKind.InvalidFormat, Assert.Throws<EmbeddingGemmaException>(() => new GemmaTokenizer(v with { TokenTypes = v.TokenTypes.Select(_ => (SentencePieceTokenType)9).ToArray() })).Kind);
        Assert.Equal(ErrorKind.InvalidFormat, Assert.Throws<EmbeddingGemmaException>(() => new GemmaTokenizer(v with { Tokens = [], Scores = [], TokenTypes = [] })).Kind);
    }

    [Fact]
    public void Arguments_are_checked()
    {
        var t = GemmaTokenizer.FromJson(Good);
        Assert.Throws<ArgumentNullException>(() => t.EncodeToIds(null!));
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => t.EncodeToIds("x", 0, out _)).Kind);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => t.EncodeBatchToIds(["a", null!])).Kind);
        Assert.Equal(ErrorKind.InvalidArgument, Assert.Throws<EmbeddingGemmaException>(() => t.Decode([t.VocabularySize])).Kind);
        Assert.Null(t.IdToToken(-1));
        Assert.Equal(Encoding.UTF8.GetString(Encoding.UTF8.GetBytes("ok")), t.Decode(t.EncodeToIds("ok", addSpecialTokens: false)));
    }
}
