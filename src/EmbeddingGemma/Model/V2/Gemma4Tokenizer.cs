using System.Globalization;
using System.Text.Json.Nodes;

namespace EmbeddingGemma.Model.V2;

/// <summary>
/// The Gemma 4 tokenizer's special-token layout used by EmbeddingGemma 2 (spec2 §4; HF-CONV <c>_EXTRA_SPECIAL_TOKENS</c>,
/// ids from HF-CFG and third-party Gemma 4 fixtures: those below 256 are [UNVERIFIED] in the spec). Gemma 3 put other
/// strings at some of these ids (<c>&lt;start_of_image&gt;</c> 255999, <c>&lt;start_of_turn&gt;</c> 105) and had an extra
/// <c>&lt;image_soft_token&gt;</c> 262144; Gemma 4 has neither. No package ships the Gemma 4 tokenizer.json (spec2 §4),
/// so <see cref="CreateSyntheticJson"/> builds a synthetic one with this layout for tests and random models.
/// </summary>
public static class Gemma4Tokenizer
{
    /// <summary>The vocabulary size (embedding rows) of the released model.</summary>
    public const int VocabularySize = 262144;

    /// <summary>The image placeholder (replaced by pad for text-only input; refused in text).</summary>
    public const int ImagePlaceholderId = 258880;

    /// <summary>The audio placeholder.</summary>
    public const int AudioPlaceholderId = 258881;

    /// <summary>The video placeholder (added as a special token by HF-PROC).</summary>
    public const int VideoPlaceholderId = 258884;

    /// <summary>The named special tokens beyond &lt;pad&gt;0 &lt;eos&gt;1 &lt;bos&gt;2 &lt;unk&gt;3 &lt;mask&gt;4, with their ids.</summary>
    public static IReadOnlyList<(string Content, int Id)> NamedTokens { get; } =
    [
        ("<|tool>", 46), ("<|\"|>", 52), ("<|think|>", 98), ("<|channel>", 100), ("<channel|>", 101), ("<|turn>", 105), ("<turn|>", 106),
        ("<|image>", 255999), ("<|audio>", 256000),
        ("<|image|>", ImagePlaceholderId), ("<|audio|>", AudioPlaceholderId), ("<image|>", 258882), ("<audio|>", 258883), ("<|video|>", VideoPlaceholderId),
    ];

    /// <summary>
    /// A synthetic tokenizer.json with the Gemma 4 layout: the pieces and merges of <see cref="SyntheticTokenizer"/>,
    /// the five base specials at 0..4, every <see cref="NamedTokens"/> entry at its id as a special added token
    /// (matched inside text, as HF does), the other pieces moved to the free ids from 5 on, and <c>&lt;unusedN&gt;</c>
    /// fillers up to <paramref name="vocabularySize"/> rows.
    /// </summary>
    public static string CreateSyntheticJson(int vocabularySize = VocabularySize)
    {
        var root = JsonNode.Parse(SyntheticTokenizer.CreateJson())!.AsObject();
        var model = root["model"]!.AsObject();
        var oldVocab = model["vocab"]!.AsObject().Select(kv => (Piece: kv.Key, Id: kv.Value!.GetValue<int>())).OrderBy(x => x.Id).ToList();
        var reserved = NamedTokens.ToDictionary(t => t.Id, t => t.Content);
        if (reserved.Keys.Max() >= vocabularySize)
        {
            throw new ArgumentOutOfRangeException(nameof(vocabularySize), $"The Gemma 4 layout needs at least {reserved.Keys.Max() + 1} rows.");
        }
        var pieces = new string?[vocabularySize];
        foreach (var (id, content) in reserved)
        {
            pieces[id] = content;
        }
        var next = 0;
        foreach (var (piece, id) in oldVocab)
        {
            if (id < 5)
            {
                pieces[id] = piece;
                continue;
            }
            next = Math.Max(next, 5);
            while (pieces[next] is not null)
            {
                next++;
            }
            pieces[next] = piece;
        }
        var unused = 0;
        for (var i = 0; i < pieces.Length; i++)
        {
            pieces[i] ??= string.Create(CultureInfo.InvariantCulture, $"<unused{unused++}>");
        }
        model["vocab"] = new JsonObject(pieces.Select((p, i) => KeyValuePair.Create(p!, (JsonNode?)JsonValue.Create(i))));
        var added = root["added_tokens"]!.AsArray();
        foreach (var (content, id) in NamedTokens)
        {
            added.Add((JsonNode)new JsonObject
            {
                ["id"] = id, ["content"] = content, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            });
        }
        return root.ToJsonString();
    }
}
