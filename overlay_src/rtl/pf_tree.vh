// plutflow adder-tree pipelining: which levels of a pf_addtree end in a register, and so
// the tree's latency, which pf_datapath's delay lines must match. A register follows every
// LPS-th level and the last one; with SPLIT, a tree of four or more levels also registers
// the level before the last, so its two widest additions (the longest carry chains) sit in
// stages of their own. The cycle model mirrors this (plutflow.overlay.cycles.tree_stages).

// 1 if level l (1..levels) of the tree ends in a register
function automatic integer pf_tree_regd(input integer l, input integer nlev,
                                        input integer lps, input integer split);
    pf_tree_regd = (l % lps == 0 || l == nlev ||
                    (split != 0 && nlev >= 4 && l == nlev - 1)) ? 1 : 0;
endfunction

// registers among levels 1..upto; the tree's latency for upto = levels (1 for N = 1)
function automatic integer pf_tree_stages(input integer upto, input integer nlev,
                                          input integer lps, input integer split);
    integer i;
    begin
        pf_tree_stages = nlev == 0 ? 1 : 0;
        for (i = 1; i <= upto; i = i + 1)
            pf_tree_stages = pf_tree_stages + pf_tree_regd(i, nlev, lps, split);
    end
endfunction
