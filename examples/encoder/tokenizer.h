/*
 * Word-level tokenizer: lowercase ASCII, tokens are runs of letters, digits
 * and '_' (bytes >= 0x80 count as letters) or any other single non-blank
 * character; the vocabulary is five specials and the most frequent tokens
 * of the pretraining corpus, saved one per line as vocab.txt (BERT's
 * layout: the line number is the id).
 */
#ifndef ENC_TOKENIZER_H
#define ENC_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

enum { ENC_PAD = 0, ENC_UNK = 1, ENC_CLS = 2, ENC_SEP = 3, ENC_MASK = 4, ENC_N_SPECIAL = 5 };

typedef struct enc_vocab {
    char **tok;     /* tok[id], NUL-terminated */
    size_t n;       /* number of ids, specials included */
    uint32_t *slot; /* open-addressing table of id + 1 (0 = empty) */
    size_t n_slot;  /* a power of two >= 2n */
} enc_vocab;

/* Splits text into tokens and calls fn(token, len, user) for each (token is
 * lowercased in a scratch buffer; len < 256: longer runs are cut). */
void enc_tokenize(const char *text, void (*fn)(const char *tok, size_t len, void *user),
                  void *user);

/* Builds the vocabulary of the specials and the `size - 5` most frequent
 * tokens of texts[0..n) (ties broken by byte order, so it is deterministic). */
void enc_vocab_build(enc_vocab *v, const char *const *texts, size_t n, size_t size);

/* Writes / reads vocab.txt.  Reading checks the specials, duplicates and
 * empty lines; on error the program ends with the file, line and reason. */
void enc_vocab_save(const enc_vocab *v, const char *path);
void enc_vocab_load(enc_vocab *v, const char *path);
void enc_vocab_free(enc_vocab *v);
/* A digest of the tokens in id order (checkpoints store it: a vocabulary
 * with two lines swapped has another digest). */
uint64_t enc_vocab_digest(const enc_vocab *v);

/* The id of a token, or ENC_UNK. */
uint32_t enc_vocab_id(const enc_vocab *v, const char *tok, size_t len);

/* Appends the ids of text's tokens to ids (at most max ids written; returns
 * how many tokens the text has, which may be more). */
size_t enc_encode(const enc_vocab *v, const char *text, uint32_t *ids, size_t max);

#endif /* ENC_TOKENIZER_H */
