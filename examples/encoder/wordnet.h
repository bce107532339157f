/*
 * WordNet 3.0 synsets as the encoder reads them: one record per line of
 * data.noun, data.verb, data.adj and data.adv (Debian's wordnet-base puts
 * them in /usr/share/wordnet).  A line is
 *   offset lex_filenum ss_type w_cnt {word lex_id}*w_cnt p_cnt
 *   {pointer_symbol offset pos source/target}*p_cnt [frames] | gloss
 * Only what the trainer uses is kept: the part of speech, the offset, the
 * lexicographer file, the noun hypernym pointers ("@" and instance "@i")
 * and the gloss text.
 */
#ifndef ENC_WORDNET_H
#define ENC_WORDNET_H

#include <stddef.h>
#include <stdint.h>

typedef struct enc_synset {
    uint32_t offset;   /* byte offset in its data file: the synset's id */
    uint8_t lexfile;   /* lexicographer file number, 0..44 */
    char pos;          /* 'n', 'v', 'a', 's' (satellite adjective) or 'r' */
    uint32_t n_hyper;  /* noun hypernyms: hyper[0..n_hyper) index into the pool */
    size_t hyper;      /* first entry in enc_wordnet.hyper */
    const char *gloss; /* NUL-terminated, trailing spaces removed */
} enc_synset;

typedef struct enc_wordnet {
    enc_synset *syn;
    size_t n;
    size_t n_noun;     /* syn[0..n_noun) are the nouns, in offset order */
    uint32_t *hyper;   /* hypernym offsets (nouns) */
    size_t n_hyper;
    char *text;        /* storage for the glosses */
} enc_wordnet;

/* Reads the four data files from dir.  A missing file or a malformed line
 * ends the program with a message naming the file, the line and the reason
 * (and the package, for a missing file). */
void enc_wordnet_read(enc_wordnet *wn, const char *dir);
void enc_wordnet_free(enc_wordnet *wn);

/* The index of the noun synset at `offset`, or SIZE_MAX. Synsets of one file
 * are stored in offset order, so this is a binary search. */
size_t enc_wordnet_find_noun(const enc_wordnet *wn, uint32_t offset);

/* The held-out rule, fixed for every run: a noun synset is in the test split
 * when u < 0.1 and in the validation split when 0.1 <= u < 0.2, where
 * u = splitmix64(offset) / 2^64; every other synset (and every verb,
 * adjective and adverb) is in the training split.  Pretraining reads only
 * training-split glosses, so no validation or test gloss is ever seen. */
enum { ENC_SPLIT_TRAIN = 0, ENC_SPLIT_VAL = 1, ENC_SPLIT_TEST = 2 };
int enc_wordnet_split(const enc_synset *s);

#endif /* ENC_WORDNET_H */
