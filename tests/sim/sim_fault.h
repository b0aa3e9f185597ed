/*
 * sim_fault: the fault scheduler. --faults chooses the kinds (default
 * all); the seed draws the rest:
 *  - delay: each path's delay range (else every path is 100-300 us);
 *  - loss, dup: each path's loss and duplication rates, redrawn now and
 *    then during the chaos phase;
 *  - reorder: paths are not FIFO (each message keeps its own delay);
 *  - partition: the nodes and the cloud split into two sides, both
 *    directions cut between them, healed after a while;
 *  - asym: one direction of a few pairs cut (a -> b while b -> a works),
 *    healed after a while;
 *  - crash: a live node crashes, restarting after a while (or only in the
 *    final phase);
 *  - skew: every wall clock starts off by up to +-90 s (past the 60 s the
 *    HLC accepts from a peer), with a rate error of up to +-1 %; wall
 *    clocks jump now and then.
 * The final phase heals every path and restarts every node; clocks keep
 * their skew.
 */
#ifndef KASSA_SIM_FAULT_H
#define KASSA_SIM_FAULT_H

#include "sim_base.h"

struct sim_world;

enum {
    SIM_F_DELAY = 1u << 0,
    SIM_F_LOSS = 1u << 1,
    SIM_F_DUP = 1u << 2,
    SIM_F_REORDER = 1u << 3,
    SIM_F_PARTITION = 1u << 4,
    SIM_F_ASYM = 1u << 5,
    SIM_F_CRASH = 1u << 6,
    SIM_F_SKEW = 1u << 7,
    SIM_F_ALL = (1u << 8) - 1,
};

/* Parses "delay,loss,..." ("all", "none"); false with *bad naming the
 * unknown word. */
bool sim_faults_parse(const char *text, unsigned *out, char *bad, size_t bad_size);
/* The canonical text of a set ("all", "none", or the names). */
void sim_faults_format(unsigned faults, char *out, size_t size);

/* Initial clocks and paths for the chaos phase. */
void sim_fault_start(struct sim_world *w);
/* One fault (SIM_EV_FAULT). */
void sim_fault_step(struct sim_world *w);
/* A partition or asymmetric cut ends (SIM_EV_HEAL). */
void sim_fault_heal(struct sim_world *w, uint32_t cut_number);
/* Final phase: every path clean and uncut. */
void sim_fault_heal_all(struct sim_world *w);

#endif
