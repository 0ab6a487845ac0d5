/* The umT5 tokenizer against sentencepiece and tokenizers: the 10,000-string
 * corpus of tests/data/tokenizer (tools/make_tokenizer_fixtures.py), the
 * pipeline's padded encodings, and malformed model files. */
#include <time.h>

#include "check.h"
#include "models/common/tokenizer.h"

#define DATA "tests/data/tokenizer/"

static void free_tokenizer(void *tok) { vs_tokenizer_free(tok); }

/* The file's bytes, freed after the case (NULL if it cannot be read). */

static uint16_t rd16(const unsigned char *b) { return (uint16_t)(b[0] | b[1] << 8); }

static void print_ids(const char *what, const int32_t *ids, size_t n) {
    fprintf(stderr, "    %s:", what);
    for (size_t i = 0; i < n && i < 60; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "%s\n", n > 60 ? " ..." : "");
}

/* Encodes every corpus string with `tok` and compares with the reference of
 * its format (hf: tokenizers, else sentencepiece). */
static int check_corpus(const vs_tokenizer *tok, int hf) {
    size_t len;
    unsigned char *data = vs_test_read_file(DATA "corpus.bin", &len);
    CHECK_MSG(data, "cannot read " DATA "corpus.bin");
    const unsigned char *p = data;
    CHECK(len >= 12 && !memcmp(p, "VSTK", 4));
    p += 4;
    CHECK(vs_test_rd32(&p) == 1);
    uint32_t count = vs_test_rd32(&p);
    int mismatches = 0;
    size_t text_bytes = 0;
    double seconds = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t nbytes = vs_test_rd32(&p);
        const char *text = (const char *)p;
        p += nbytes;
        uint32_t n_spm = vs_test_rd32(&p);
        const unsigned char *spm = p;
        p += 2 * (size_t)n_spm;
        uint32_t n_hf = vs_test_rd32(&p);
        const unsigned char *ref = spm;
        uint32_t n_ref = n_spm;
        if (n_hf != 0xFFFFFFFFu) {
            if (hf) {
                ref = p;
                n_ref = n_hf;
            }
            p += 2 * (size_t)n_hf;
        }
        int32_t *ids;
        size_t n;
        clock_t t0 = clock();
        CHECK_OK(vs_tokenizer_encode(tok, text, nbytes, &ids, &n));
        seconds += (double)(clock() - t0) / CLOCKS_PER_SEC;
        text_bytes += nbytes;
        int same = n == n_ref;
        for (size_t k = 0; same && k < n; k++) same = ids[k] == rd16(ref + 2 * k);
        if (!same && mismatches++ < 5) {
            fprintf(stderr, "  string %u (%u bytes) differs from %s: \"%.*s\"\n", i, nbytes,
                    hf ? "tokenizers" : "sentencepiece", (int)(nbytes < 200 ? nbytes : 200), text);
            print_ids("got", ids, n);
            int32_t r[64];
            for (uint32_t k = 0; k < n_ref && k < 64; k++) r[k] = rd16(ref + 2 * k);
            print_ids("want", r, n_ref < 64 ? n_ref : 64);
        }
        free(ids);
    }
    printf("  %s: %u strings, %d differ; %.2f MB/s (%zu bytes in %.3f s)\n", hf ? "tokenizer.json" : "spiece.model",
           count, mismatches, seconds > 0 ? text_bytes / seconds / 1e6 : 0.0, text_bytes, seconds);
    CHECK(count >= 10000);
    CHECK(mismatches == 0);
    return 0;
}

TEST(spiece_model_matches_sentencepiece_on_the_corpus) {
    vs_tokenizer *tok;
    CHECK_OK(vs_tokenizer_load(&tok, DATA "spiece.model"));
    vs_test_defer(free_tokenizer, tok);
    CHECK(vs_tokenizer_vocab_size(tok) == 2000);
    return check_corpus(tok, 0);
}

TEST(tokenizer_json_matches_tokenizers_on_the_corpus) {
    vs_tokenizer *tok;
    CHECK_OK(vs_tokenizer_load(&tok, DATA "tokenizer.json"));
    vs_test_defer(free_tokenizer, tok);
    CHECK(vs_tokenizer_vocab_size(tok) == 2000);
    return check_corpus(tok, 1);
}

TEST(a_folder_prefers_tokenizer_json) {
    vs_tokenizer *tok;
    CHECK_OK(vs_tokenizer_load(&tok, "tests/data/tokenizer"));
    vs_test_defer(free_tokenizer, tok);
    /* "</s>" in the text is a special token for tokenizers, plain text for sentencepiece. */
    int32_t *ids;
    size_t n;
    CHECK_OK(vs_tokenizer_encode(tok, "</s>", 4, &ids, &n));
    vs_test_defer(free, ids);
    CHECK(n == 2 && ids[0] == 1 && ids[1] == 1);
    size_t len;
    const char *piece = vs_tokenizer_piece(tok, 1, &len);
    CHECK(piece && len == 4 && !memcmp(piece, "</s>", 4));
    CHECK(vs_tokenizer_piece(tok, 2000, NULL) == NULL);
    return 0;
}

TEST(padded_encodings_match_the_pipeline) {
    size_t len;
    unsigned char *data = vs_test_read_file(DATA "padded.bin", &len);
    CHECK(data && len > 16 && !memcmp(data, "VSTP", 4));
    const unsigned char *p = data + 4;
    CHECK(vs_test_rd32(&p) == 1);
    uint32_t count = vs_test_rd32(&p), max_length = vs_test_rd32(&p);
    vs_tokenizer *tok;
    CHECK_OK(vs_tokenizer_load(&tok, DATA "tokenizer.json"));
    vs_test_defer(free_tokenizer, tok);
    int32_t *ids = vs_test_malloc(max_length * sizeof *ids), *mask = vs_test_malloc(max_length * sizeof *mask);
    int failed = 0;
    for (uint32_t i = 0; i < count && !failed; i++) {
        uint32_t nbytes = vs_test_rd32(&p);
        const char *text = (const char *)p;
        p += nbytes;
        int n;
        CHECK_OK(vs_tokenizer_encode_padded(tok, text, nbytes, (int)max_length, ids, mask, &n));
        int real = 0;
        for (uint32_t k = 0; k < max_length; k++) {
            failed |= ids[k] != rd16(p + 2 * k) || mask[k] != p[2 * max_length + k];
            real += p[2 * max_length + k];
        }
        failed |= n != real;
        if (failed) fprintf(stderr, "  padded string %u differs\n", i);
        p += 3 * (size_t)max_length;
    }
    CHECK_FAILS(vs_tokenizer_encode_padded(tok, "a", 1, 1, ids, mask, &(int){0}), VS_ERR_INVALID_ARG, "max_length");
    CHECK(!failed);
    return 0;
}

TEST(invalid_utf8_is_an_error_for_tokenizers_and_replaced_for_sentencepiece) {
    vs_tokenizer *hf, *sp;
    CHECK_OK(vs_tokenizer_load(&hf, DATA "tokenizer.json"));
    vs_test_defer(free_tokenizer, hf);
    CHECK_OK(vs_tokenizer_load(&sp, DATA "spiece.model"));
    vs_test_defer(free_tokenizer, sp);
    int32_t *ids;
    size_t n;
    CHECK_FAILS(vs_tokenizer_encode(hf, "a\xff", 2, &ids, &n), VS_ERR_INVALID_ARG, "UTF-8");
    CHECK_OK(vs_tokenizer_encode(sp, "a\xff\xc3", 3, &ids, &n)); /* each bad byte is U+FFFD */
    vs_test_defer(free, ids);
    CHECK(n >= 3 && ids[n - 1] == 1);
    return 0;
}

TEST(truncated_or_corrupt_spiece_model_fails_clearly) {
    size_t len;
    unsigned char *data = vs_test_read_file(DATA "spiece.model", &len);
    CHECK(data);
    vs_tokenizer *tok;
    CHECK_FAILS(vs_tokenizer_load_spm(&tok, data, len / 2, "half.model"), VS_ERR_FORMAT, "half.model: truncated protobuf");
    CHECK(tok == NULL);
    CHECK_FAILS(vs_tokenizer_load_spm(&tok, data, 0, "empty.model"), VS_ERR_FORMAT, "empty");
    /* Truncating anywhere must fail cleanly, never crash (a cut exactly
     * between two top-level fields leaves a well-formed but partial model). */
    for (size_t cut = 1; cut < len; cut += 997) {
        if (vs_tokenizer_load_spm(&tok, data, cut, "cut.model") == VS_OK) vs_tokenizer_free(tok);
    }
    /* A model without pieces: only a trainer spec (field 2, empty message). */
    const unsigned char no_pieces[] = {0x12, 0x00};
    CHECK_FAILS(vs_tokenizer_load_spm(&tok, no_pieces, sizeof no_pieces, "novocab.model"), VS_ERR_FORMAT,
                "missing vocabulary");
    const unsigned char garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    CHECK_FAILS(vs_tokenizer_load_spm(&tok, garbage, sizeof garbage, "garbage.model"), VS_ERR_FORMAT, "garbage.model");
    CHECK_FAILS(vs_tokenizer_load(&tok, "tests/data/no-such-folder"), VS_ERR_NOT_FOUND, "no tokenizer.json or spiece.model");
    return 0;
}

/* Corrupt bytes anywhere (the charsmap trie included) either fail to load
 * or load into a tokenizer that still encodes without touching bad memory. */
TEST(corrupted_spiece_model_never_crashes) {
    size_t len;
    unsigned char *data = vs_test_read_file(DATA "spiece.model", &len);
    CHECK(data);
    unsigned long long rng = 7;
    const char *text = "A  camera \xEF\xBD\x85\xCC\x81 pans \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80 caf\xC3\xA9 \t\x01 ";
    int loaded = 0;
    unsigned char *copy = vs_test_malloc(len);
    for (int round = 0; round < 150; round++) {
        memcpy(copy, data, len);
        for (int f = 0; f < 8; f++) copy[(size_t)(vs_test_uniform(&rng) * (double)len)] ^= (unsigned char)(1 + vs_test_uniform(&rng) * 255);
        vs_tokenizer *tok;
        if (vs_tokenizer_load_spm(&tok, copy, len, "flipped.model") == VS_OK) {
            int32_t *ids;
            size_t n;
            if (vs_tokenizer_encode(tok, text, strlen(text), &ids, &n) == VS_OK) free(ids);
            vs_tokenizer_free(tok);
            loaded++;
        } else {
            CHECK(strstr(vs_last_error(), "flipped.model") != NULL);
        }
    }
    printf("  %d of 150 corrupted models still loaded\n", loaded);
    return 0;
}

TEST(bad_tokenizer_json_fails_clearly) {
    vs_tokenizer *tok;
    const char *bad = "{\"model\": {\"type\": \"Unigram\", \"vocab\": [[\"a\", -1.0]";
    CHECK_FAILS(vs_tokenizer_load_json(&tok, bad, strlen(bad), "bad.json"), VS_ERR_FORMAT, "bad.json");
    const char *novocab = "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0}}";
    CHECK_FAILS(vs_tokenizer_load_json(&tok, novocab, strlen(novocab), "nov.json"), VS_ERR_FORMAT, "no \"vocab\"");
    const char *bpe = "{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}";
    CHECK_FAILS(vs_tokenizer_load_json(&tok, bpe, strlen(bpe), "bpe.json"), VS_ERR_UNSUPPORTED, "BPE");
    const char *unk = "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 5, \"vocab\": [[\"<unk>\", 0.0]]}}";
    CHECK_FAILS(vs_tokenizer_load_json(&tok, unk, strlen(unk), "unk.json"), VS_ERR_FORMAT, "unk_id");
    const char *nfc = "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0]]},"
                      " \"normalizer\": {\"type\": \"NFC\"}}";
    CHECK_FAILS(vs_tokenizer_load_json(&tok, nfc, strlen(nfc), "nfc.json"), VS_ERR_UNSUPPORTED, "\"NFC\"");
    const char *b64 = "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0]]},"
                      " \"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"!!!\"}}";
    CHECK_FAILS(vs_tokenizer_load_json(&tok, b64, strlen(b64), "b64.json"), VS_ERR_FORMAT, "base64");
    const char *trie = "{\"model\": {\"type\": \"Unigram\", \"unk_id\": 0, \"vocab\": [[\"<unk>\", 0.0]]},"
                       " \"normalizer\": {\"type\": \"Precompiled\", \"precompiled_charsmap\": \"/////wAAAAA=\"}}";
    CHECK_FAILS(vs_tokenizer_load_json(&tok, trie, strlen(trie), "trie.json"), VS_ERR_FORMAT, "charsmap");
    return 0;
}

RUN_TESTS(T(spiece_model_matches_sentencepiece_on_the_corpus), T(tokenizer_json_matches_tokenizers_on_the_corpus),
          T(a_folder_prefers_tokenizer_json), T(padded_encodings_match_the_pipeline),
          T(invalid_utf8_is_an_error_for_tokenizers_and_replaced_for_sentencepiece),
          T(truncated_or_corrupt_spiece_model_fails_clearly), T(corrupted_spiece_model_never_crashes),
          T(bad_tokenizer_json_fails_clearly))
