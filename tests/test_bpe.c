/* The byte-level BPE tokenizers (Llama 3, CLIP) against the tokenizers
 * library: the 10,000-string corpus of tests/data/hunyuan_text
 * (tools/make_bpe_fixtures.py), both CLIP file formats, padding, and
 * malformed files. */
#include <time.h>

#include "check.h"
#include "models/common/bpe.h"

#define DATA "tests/data/hunyuan_text/"

static void free_bpe(void *t) { vs_bpe_free(t); }

static int rd16(const unsigned char *b) { return b[0] | b[1] << 8; }

static void print_ids(const char *what, const int32_t *ids, size_t n) {
    fprintf(stderr, "    %s:", what);
    for (size_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "%s\n", n > 40 ? " ..." : "");
}

/* Encodes every corpus string and compares with column `which` (0 Llama, 1 CLIP). */
static int check_corpus(const vs_bpe *tok, int which, const char *name) {
    size_t len;
    unsigned char *data = vs_test_read_file(DATA "bpe_corpus.bin", &len);
    CHECK_MSG(data && len >= 12 && !memcmp(data, "VSBP", 4), "cannot read " DATA "bpe_corpus.bin");
    const unsigned char *p = data + 4;
    CHECK(vs_test_rd32(&p) == 1);
    const uint32_t count = vs_test_rd32(&p);
    int mismatches = 0;
    size_t text_bytes = 0;
    double seconds = 0;
    for (uint32_t i = 0; i < count; i++) {
        const uint32_t nbytes = vs_test_rd32(&p);
        const char *text = (const char *)p;
        p += nbytes;
        const unsigned char *ref = NULL;
        uint32_t n_ref = 0;
        for (int col = 0; col < 2; col++) {
            uint32_t k = vs_test_rd32(&p);
            if (col == which) {
                ref = p;
                n_ref = k;
            }
            p += 2 * (size_t)k;
        }
        int32_t *ids;
        size_t n;
        clock_t t0 = clock();
        CHECK_OK(vs_bpe_encode(tok, text, nbytes, &ids, &n));
        seconds += (double)(clock() - t0) / CLOCKS_PER_SEC;
        text_bytes += nbytes;
        int same = n == n_ref;
        for (size_t k = 0; same && k < n; k++) same = ids[k] == rd16(ref + 2 * k);
        if (!same && mismatches++ < 5) {
            fprintf(stderr, "  string %u (%u bytes) differs: \"%.*s\"\n", i, nbytes, (int)(nbytes < 120 ? nbytes : 120), text);
            print_ids("got", ids, n);
            int32_t r[40];
            for (uint32_t k = 0; k < n_ref && k < 40; k++) r[k] = rd16(ref + 2 * k);
            print_ids("want", r, n_ref);
        }
        free(ids);
    }
    printf("  %s: %u strings, %d differ; %.2f MB/s\n", name, count, mismatches,
           seconds > 0 ? text_bytes / seconds / 1e6 : 0.0);
    CHECK(count >= 10000);
    CHECK(mismatches == 0);
    return 0;
}

TEST(llama3_tokenizer_json_matches_tokenizers) {
    vs_bpe *tok;
    CHECK_OK(vs_bpe_load(&tok, DATA "llama_tokenizer"));
    vs_test_defer(free_bpe, tok);
    return check_corpus(tok, 0, "llama tokenizer.json");
}

TEST(clip_tokenizer_json_matches_tokenizers) {
    vs_bpe *tok;
    CHECK_OK(vs_bpe_load(&tok, DATA "clip_tokenizer/tokenizer.json"));
    vs_test_defer(free_bpe, tok);
    return check_corpus(tok, 1, "clip tokenizer.json");
}

TEST(clip_vocab_and_merges_match_tokenizers) {
    size_t vlen, mlen;
    unsigned char *vocab = vs_test_read_file(DATA "clip_tokenizer/vocab.json", &vlen);
    unsigned char *merges = vs_test_read_file(DATA "clip_tokenizer/merges.txt", &mlen);
    CHECK(vocab && merges);
    vs_bpe *tok;
    CHECK_OK(vs_bpe_load_vocab_merges(&tok, (const char *)vocab, vlen, (const char *)merges, mlen, "clip"));
    vs_test_defer(free_bpe, tok);
    return check_corpus(tok, 1, "clip vocab.json + merges.txt");
}

TEST(padding_follows_the_config) {
    vs_bpe *llama;
    CHECK_OK(vs_bpe_load(&llama, DATA "llama_tokenizer"));
    vs_test_defer(free_bpe, llama);
    const int pad = vs_bpe_token_id(llama, "<|finetune_right_pad_id|>"), bos = vs_bpe_token_id(llama, "<|begin_of_text|>");
    CHECK(pad > 0 && bos > 0 && vs_bpe_token_id(llama, "no such token") == -1);
    int32_t ids[8], mask[8];
    int n;
    CHECK_OK(vs_bpe_encode_padded(llama, "a cat", 5, 8, ids, mask, &n));
    CHECK(n >= 3 && ids[0] == bos && mask[0] == 1 && mask[n - 1] == 1 && mask[n] == 0 && ids[7] == pad);
    CHECK_OK(vs_bpe_set_padding(llama, pad, 0)); /* left */
    CHECK_OK(vs_bpe_encode_padded(llama, "a cat", 5, 8, ids, mask, &n));
    CHECK(ids[8 - n] == bos && mask[8 - n] == 1 && mask[7 - n] == 0 && ids[0] == pad);
    /* truncation keeps the special tokens */
    CHECK_OK(vs_bpe_encode_padded(llama, "a cat sat on the mat again", 26, 3, ids, mask, &n));
    CHECK(n == 3 && ids[0] == bos && mask[2] == 1);
    CHECK_FAILS(vs_bpe_encode_padded(llama, "a", 1, 1, ids, mask, &n), VS_ERR_INVALID_ARG, "max_length");
    CHECK_OK(vs_bpe_set_padding(llama, -1, 1));
    CHECK_FAILS(vs_bpe_encode_padded(llama, "a", 1, 4, ids, mask, &n), VS_ERR_INVALID_ARG, "pad token");

    vs_bpe *clip;
    CHECK_OK(vs_bpe_load(&clip, DATA "clip_tokenizer"));
    vs_test_defer(free_bpe, clip);
    const int eos = vs_bpe_token_id(clip, "<|endoftext|>");
    CHECK_OK(vs_bpe_encode_padded(clip, "A  Cat", 6, 8, ids, mask, &n));
    CHECK(ids[0] == vs_bpe_token_id(clip, "<|startoftext|>") && ids[n - 1] == eos && ids[7] == eos && !mask[7]);
    CHECK_FAILS(vs_bpe_encode(clip, "a\xff", 2, &(int32_t *){NULL}, &(size_t){0}), VS_ERR_INVALID_ARG, "UTF-8");
    return 0;
}

TEST(bad_files_fail_clearly) {
    vs_bpe *t;
    const char *cases[][3] = {
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}", "cut.json", "cut.json"},
        {"{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", "uni.json", "Unigram"},
        {"{\"model\": {\"type\": \"BPE\", \"merges\": []}}", "novocab.json", "no \"vocab\""},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b\"]}}", "merge.json", "outside the vocabulary"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 0}, \"merges\": []}}", "dup.json", "used twice"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [7]}}", "m7.json", "neither"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}", "nopre.json", "neither Llama 3's nor CLIP's"},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [], \"byte_fallback\": true}}", "bf.json", "byte_fallback"},
    };
    const vs_status want[] = {VS_ERR_FORMAT, VS_ERR_UNSUPPORTED, VS_ERR_FORMAT, VS_ERR_FORMAT, VS_ERR_FORMAT, VS_ERR_FORMAT,
                              VS_ERR_UNSUPPORTED, VS_ERR_UNSUPPORTED};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_FAILS(vs_bpe_load_json(&t, cases[i][0], strlen(cases[i][0]), cases[i][1]), want[i], cases[i][2]);
        CHECK(t == NULL);
    }
    const char *vocab = "{\"a\": 0, \"b\": 1}";
    CHECK_FAILS(vs_bpe_load_vocab_merges(&t, vocab, strlen(vocab), "#version: 0.2\na b c\n", 20, "m.txt"), VS_ERR_FORMAT,
                "line 2");
    CHECK_FAILS(vs_bpe_load_vocab_merges(&t, vocab, strlen(vocab), "", 0, "m.txt"), VS_ERR_FORMAT, "<|startoftext|>");
    CHECK_FAILS(vs_bpe_load(&t, "tests/data/no-such-folder"), VS_ERR_NOT_FOUND, "no tokenizer.json");
    /* Truncating the real file anywhere fails cleanly. */
    size_t len;
    unsigned char *data = vs_test_read_file(DATA "llama_tokenizer/tokenizer.json", &len);
    CHECK(data);
    for (size_t cut = 1; cut < len; cut += 7919) CHECK(vs_bpe_load_json(&t, (const char *)data, cut, "cut.json") != VS_OK);
    return 0;
}

RUN_TESTS(T(llama3_tokenizer_json_matches_tokenizers), T(clip_tokenizer_json_matches_tokenizers),
          T(clip_vocab_and_merges_match_tokenizers), T(padding_follows_the_config), T(bad_files_fail_clearly))
