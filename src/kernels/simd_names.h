/*
 * simd_names.h - gives every file-local name of a SIMD backend its backend's prefix, so that
 * all backends fit in one translation unit (the single-header amalgamation, lib/fpq_single.h)
 * although each is written with the same short names (vf_load, quantize_any, ...).
 *
 * Included twice by each backend, no include guard:
 *   - first, by the backend file, after `#define SIMD_PREFIX avx2` (say) and before its
 *     primitives: every name below becomes a macro for avx2_<name>;
 *   - then at the end of simd_impl.h: every one of those macros, and the backend's own
 *     (SIMD_PREFIX, SIMD_TARGET, LANES, ...), is #undef'd.
 * A new file-local name in a backend or in simd_impl.h goes into both lists.
 */
/* Not an include guard: the second inclusion takes the #else branch. */
#if !defined(SIMD_NAMES_ACTIVE)
#define SIMD_NAMES_ACTIVE

#ifndef SIMD_PREFIX
#  error "define SIMD_PREFIX before including simd_names.h"
#endif
#define SIMD_NAME_PASTE_(prefix, name) prefix##_##name
#define SIMD_NAME_PASTE(prefix, name) SIMD_NAME_PASTE_(prefix, name)
/* Within its own expansion a macro's name is not expanded again, so `vf_load` below expands
 * to avx2_vf_load, not further. */
#define SIMD_LOCAL(name) SIMD_NAME_PASTE(SIMD_PREFIX, name)

/* The types and primitives every backend defines (simd_impl.h's list). */
#define vi SIMD_LOCAL(vi)
#define vf SIMD_LOCAL(vf)
#define vm SIMD_LOCAL(vm)
#define vf_load SIMD_LOCAL(vf_load)
#define vf_store SIMD_LOCAL(vf_store)
#define vf_set1 SIMD_LOCAL(vf_set1)
#define vf_add SIMD_LOCAL(vf_add)
#define vf_mul SIMD_LOCAL(vf_mul)
#define vf_div SIMD_LOCAL(vf_div)
#define vf_as_vi SIMD_LOCAL(vf_as_vi)
#define vi_as_vf SIMD_LOCAL(vi_as_vf)
#define vi_set1 SIMD_LOCAL(vi_set1)
#define vi_and SIMD_LOCAL(vi_and)
#define vi_or SIMD_LOCAL(vi_or)
#define vi_xor SIMD_LOCAL(vi_xor)
#define vi_add SIMD_LOCAL(vi_add)
#define vi_sub SIMD_LOCAL(vi_sub)
#define vi_max SIMD_LOCAL(vi_max)
#define vi_min SIMD_LOCAL(vi_min)
#define vi_srl_n SIMD_LOCAL(vi_srl_n)
#define vi_sra_n SIMD_LOCAL(vi_sra_n)
#define vi_gt SIMD_LOCAL(vi_gt)
#define vi_eq SIMD_LOCAL(vi_eq)
#define vm_or SIMD_LOCAL(vm_or)
#define vm_and SIMD_LOCAL(vm_and)
#define vi_select SIMD_LOCAL(vi_select)
#define vi_store_bytes SIMD_LOCAL(vi_store_bytes)
#define vi_load_bytes SIMD_LOCAL(vi_load_bytes)
#define vf_lookup SIMD_LOCAL(vf_lookup)
#define vi_gather_u32 SIMD_LOCAL(vi_gather_u32)
#define vi_store_u32 SIMD_LOCAL(vi_store_u32)
#define simd_pack SIMD_LOCAL(simd_pack)
#define simd_unpack SIMD_LOCAL(simd_unpack)
/* Helpers of some backends. */
#define lookup128 SIMD_LOCAL(lookup128)
#define lut_bytes SIMD_LOCAL(lut_bytes)
#define pack4_16 SIMD_LOCAL(pack4_16)
#define pack4_32 SIMD_LOCAL(pack4_32)
#define pack4_64 SIMD_LOCAL(pack4_64)
#define pack6_32 SIMD_LOCAL(pack6_32)
#define pack6_64 SIMD_LOCAL(pack6_64)
#define unpack4_16 SIMD_LOCAL(unpack4_16)
#define unpack4_32 SIMD_LOCAL(unpack4_32)
#define unpack4_64 SIMD_LOCAL(unpack4_64)
#define unpack6_32 SIMD_LOCAL(unpack6_32)
#define unpack6_64 SIMD_LOCAL(unpack6_64)
#define convert_widen SIMD_LOCAL(convert_widen)
#define convert_narrow SIMD_LOCAL(convert_narrow)
/* simd_impl.h's own. */
#define simd_encoder SIMD_LOCAL(simd_encoder)
#define simd_encoder_init SIMD_LOCAL(simd_encoder_init)
#define simd_encode SIMD_LOCAL(simd_encode)
#define simd_divide SIMD_LOCAL(simd_divide)
#define simd_scaling SIMD_LOCAL(simd_scaling)
#define group_vec SIMD_LOCAL(group_vec)
#define quotient_vec SIMD_LOCAL(quotient_vec)
#define quotient_one SIMD_LOCAL(quotient_one)
#define quantize_run SIMD_LOCAL(quantize_run)
#define fake_quantize_run SIMD_LOCAL(fake_quantize_run)
#define dequantize_run SIMD_LOCAL(dequantize_run)
#define table_kind SIMD_LOCAL(table_kind)
#define quantize_any SIMD_LOCAL(quantize_any)
#define dequantize_any SIMD_LOCAL(dequantize_any)
#define fake_quantize_any SIMD_LOCAL(fake_quantize_any)
#define simd_quantize SIMD_LOCAL(simd_quantize)
#define simd_dequantize SIMD_LOCAL(simd_dequantize)
#define simd_fake_quantize SIMD_LOCAL(simd_fake_quantize)
#define simd_quantize_grouped SIMD_LOCAL(simd_quantize_grouped)
#define simd_dequantize_grouped SIMD_LOCAL(simd_dequantize_grouped)
#define simd_fake_quantize_grouped SIMD_LOCAL(simd_fake_quantize_grouped)
#define simd_widen SIMD_LOCAL(simd_widen)
#define simd_narrow SIMD_LOCAL(simd_narrow)
#define simd_table_entries SIMD_LOCAL(simd_table_entries)
#define simd_abs_max SIMD_LOCAL(simd_abs_max)

#else /* second inclusion: undo it all */

#undef vi
#undef vf
#undef vm
#undef vf_load
#undef vf_store
#undef vf_set1
#undef vf_add
#undef vf_mul
#undef vf_div
#undef vf_as_vi
#undef vi_as_vf
#undef vi_set1
#undef vi_and
#undef vi_or
#undef vi_xor
#undef vi_add
#undef vi_sub
#undef vi_max
#undef vi_min
#undef vi_srl_n
#undef vi_sra_n
#undef vi_gt
#undef vi_eq
#undef vm_or
#undef vm_and
#undef vi_select
#undef vi_store_bytes
#undef vi_load_bytes
#undef vf_lookup
#undef vi_gather_u32
#undef vi_store_u32
#undef simd_pack
#undef simd_unpack
#undef lookup128
#undef lut_bytes
#undef pack4_16
#undef pack4_32
#undef pack4_64
#undef pack6_32
#undef pack6_64
#undef unpack4_16
#undef unpack4_32
#undef unpack4_64
#undef unpack6_32
#undef unpack6_64
#undef convert_widen
#undef convert_narrow
#undef simd_encoder
#undef simd_encoder_init
#undef simd_encode
#undef simd_divide
#undef simd_scaling
#undef group_vec
#undef quotient_vec
#undef quotient_one
#undef quantize_run
#undef fake_quantize_run
#undef dequantize_run
#undef table_kind
#undef quantize_any
#undef dequantize_any
#undef fake_quantize_any
#undef simd_quantize
#undef simd_dequantize
#undef simd_fake_quantize
#undef simd_quantize_grouped
#undef simd_dequantize_grouped
#undef simd_fake_quantize_grouped
#undef simd_widen
#undef simd_narrow
#undef simd_table_entries
#undef simd_abs_max
/* The backend's definitions for simd_impl.h, and simd_impl.h's own macros. */
#undef SIMD_TARGET
#undef SIMD_NAME
#undef SIMD_KERNELS
#undef SIMD_WIDEN
#undef SIMD_NARROW
#undef LANES
#undef PRIM
#undef SIMD_FN
#undef SIMD_STEP
#undef SIMD_BLOCK
#undef SIMD_LOCAL
#undef SIMD_NAME_PASTE
#undef SIMD_NAME_PASTE_
#undef SIMD_PREFIX
#undef SIMD_NAMES_ACTIVE

#endif
