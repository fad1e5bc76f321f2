using System.Text;

namespace EmbeddingGemma.Tokenization;

public sealed partial class GemmaTokenizer
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// Turns ids back into text as Gemma's decoder does: ▁ becomes a space, runs of byte tokens become the UTF-8 they
    /// spell (one U+FFFD per byte when they are not valid UTF-8), pieces are concatenated.
    /// </summary>
    /// <exception cref="EmbeddingGemmaException">InvalidArgument for an id outside 0..VocabularySize-1.</exception>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var sb = new StringBuilder(ids.Length * 4);
        Span<byte> pending = stackalloc byte[64];
        var pendingCount = 0;
        for (var i = 0; i < ids.Length; i++)
        {
            var id = ids[i];
            if ((uint)id >= (uint)_pieces.Length)
            {
                throw new EmbeddingGemmaException(ErrorKind.InvalidArgument,
                    $"token id {id} at position {i} is outside the vocabulary (0..{_pieces.Length - 1})");
            }
            if (skipSpecialTokens && _isSpecial[id])
            {
                continue;
            }
            var b = _byteValue[id];
            if (b >= 0)
            {
                if (pendingCount == pending.Length)
                {
                    var bigger = new byte[pending.Length * 2];
                    pending.CopyTo(bigger);
                    pending = bigger;
                }
                pending[pendingCount++] = (byte)b;
                continue;
            }
            Flush(sb, pending[..pendingCount]);
            pendingCount = 0;
            AppendPiece(sb, _pieces[id]);
        }
        Flush(sb, pending[..pendingCount]);
        return sb.ToString();
    }

    /// <inheritdoc cref="Decode(ReadOnlySpan{int}, bool)"/>
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        return Decode(ids is int[] array ? array : ids.ToArray(), skipSpecialTokens);
    }

    private void AppendPiece(StringBuilder sb, string piece)
    {
        if (_normalizeFrom == '\0')
        {
            sb.Append(piece);
            return;
        }
        foreach (var c in piece)
        {
            sb.Append(c == _normalizeTo ? _normalizeFrom : c);
        }
    }

    private static void Flush(StringBuilder sb, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }
        try
        {
            sb.Append(StrictUtf8.GetString(bytes));
        }
        catch (DecoderFallbackException)
        {
            sb.Append('\uFFFD', bytes.Length);
        }
    }
}
