using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EmbeddingGemma.Tests.Tokenization;

/// <summary>
/// Writes small tokenizer.json files with Gemma's structure (BPE, byte fallback, Replace(" " -> "▁"), the special
/// tokens at ids 0..4, byte tokens &lt;0x00&gt;..&lt;0xFF&gt;), with merges learned greedily from a sample text, so
/// both our tokenizer and the Hugging Face oracle can load them.
/// </summary>
internal static class SyntheticTokenizer
{
    public const string Sample = "the quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs! "
        + "tokenizers split text into pieces and pieces into ids. <b>bold</b> and    spaces   here\n\nnew lines "
        + "héllo wörld naïve café 東京 東京都 😀😀";

    /// <param name="merges">How many merges to learn.</param>
    /// <param name="extraAdded">Further added tokens (objects with Hugging Face's fields), ids given by the caller.</param>
    public static string Build(int merges = 120, IEnumerable<JsonObject>? extraAdded = null, string sample = Sample)
    {
        var vocab = new List<string> { "<pad>", "<eos>", "<bos>", "<unk>", "<mask>" };
        for (var b = 0; b < 256; b++)
        {
            vocab.Add($"<0x{b:X2}>");
        }
        var normalized = sample.Replace(' ', '\u2581');
        // Characters of the sample (not all: the rest must go through byte fallback).
        var symbols = new List<string>();
        for (var i = 0; i < normalized.Length; i += char.IsSurrogatePair(normalized, i) ? 2 : 1)
        {
            symbols.Add(char.IsSurrogatePair(normalized, i) ? normalized.Substring(i, 2) : normalized[i].ToString());
        }
        foreach (var c in symbols.Distinct(StringComparer.Ordinal).Where(c => c != "😀" && c != "都"))
        {
            vocab.Add(c);
        }
        var mergeList = new List<(string, string)>();
        var word = symbols.ToList();
        for (var m = 0; m < merges; m++)
        {
            var counts = new Dictionary<(string, string), int>();
            for (var i = 0; i + 1 < word.Count; i++)
            {
                if (!vocab.Contains(word[i]) || !vocab.Contains(word[i + 1]))
                {
                    continue;
                }
                var pair = (word[i], word[i + 1]);
                counts[pair] = counts.GetValueOrDefault(pair) + 1;
            }
            if (counts.Count == 0)
            {
                break;
            }
            var best = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1 + "|" + kv.Key.Item2, StringComparer.Ordinal).First().Key;
            mergeList.Add(best);
            var mergedPiece = best.Item1 + best.Item2;
            if (!vocab.Contains(mergedPiece))
            {
                vocab.Add(mergedPiece);
            }
            var next = new List<string>();
            for (var i = 0; i < word.Count; i++)
            {
                if (i + 1 < word.Count && word[i] == best.Item1 && word[i + 1] == best.Item2)
                {
                    next.Add(mergedPiece);
                    i++;
                }
                else
                {
                    next.Add(word[i]);
                }
            }
            word = next;
        }

        var added = new JsonArray();
        string[] special = ["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"];
        for (var i = 0; i < special.Length; i++)
        {
            var token = AddedToken(special[i], special: i < 4);
            token["id"] = i;
            added.Add(token);
        }
        // Hugging Face numbers added tokens itself: the vocabulary's id when the content is a piece, else the next
        // id after the vocabulary, in order. Write them that way, as real files are.
        var nextId = vocab.Count;
        foreach (var extra in extraAdded ?? [])
        {
            var content = (string)extra["content"]!;
            var index = vocab.IndexOf(content);
            extra["id"] = index >= 0 ? index : nextId++;
            added.Add(extra);
        }
        var vocabObject = new JsonObject();
        for (var i = 0; i < vocab.Count; i++)
        {
            vocabObject[vocab[i]] = i;
        }
        var mergesArray = new JsonArray();
        foreach (var (a, b) in mergeList)
        {
            mergesArray.Add(new JsonArray(a, b));
        }
        var root = new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = JsonNode.Parse("""{"type":"Replace","pattern":{"String":" "},"content":"▁"}"""),
            ["pre_tokenizer"] = JsonNode.Parse("""{"type":"Split","pattern":{"String":" "},"behavior":"MergedWithPrevious","invert":false}"""),
            ["post_processor"] = JsonNode.Parse("""
                {"type":"TemplateProcessing",
                 "single":[{"SpecialToken":{"id":"<bos>","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"<eos>","type_id":0}}],
                 "pair":[{"Sequence":{"id":"A","type_id":0}},{"Sequence":{"id":"B","type_id":1}}],
                 "special_tokens":{"<bos>":{"id":"<bos>","ids":[2],"tokens":["<bos>"]},"<eos>":{"id":"<eos>","ids":[1],"tokens":["<eos>"]}}}
                """),
            ["decoder"] = JsonNode.Parse("""{"type":"Sequence","decoders":[{"type":"Replace","pattern":{"String":"▁"},"content":" "},{"type":"ByteFallback"},{"type":"Fuse"}]}"""),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE",
                ["dropout"] = null,
                ["unk_token"] = "<unk>",
                ["continuing_subword_prefix"] = null,
                ["end_of_word_suffix"] = null,
                ["fuse_unk"] = true,
                ["byte_fallback"] = true,
                ["ignore_merges"] = false,
                ["vocab"] = vocabObject,
                ["merges"] = mergesArray,
            },
        };
        return root.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    public static JsonObject AddedToken(string content, bool special = false, bool normalized = false, bool lstrip = false, bool rstrip = false, bool singleWord = false) => new()
    {
        ["content"] = content,
        ["single_word"] = singleWord,
        ["lstrip"] = lstrip,
        ["rstrip"] = rstrip,
        ["normalized"] = normalized,
        ["special"] = special,
    };

    /// <summary>Number of pieces in the model vocabulary of <see cref="Build"/>'s output.</summary>
    public static int VocabularySize(string json) => JsonNode.Parse(json)!["model"]!["vocab"]!.AsObject().Count;

    /// <summary>Writes the JSON to a fresh folder and returns the tokenizer.json path.</summary>
    public static string Write(string json, string? config = null)
    {
        var dir = EmbeddingGemma.Testing.TestPaths.NewTempDir("eg-tok");
        var path = Path.Combine(dir, "tokenizer.json");
        File.WriteAllText(path, json, new UTF8Encoding(false));
        if (config is not null)
        {
            File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), config);
        }
        return path;
    }
}
