package quantize

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/shimmer-llm/shimmer/gguf"
)

// FileType is llama.cpp's llama_ftype: the mix a file was quantized with,
// stored as general.file_type. Its numbers are part of the format.
type FileType uint32

// The file types llama-quantize knows (numbers 4–6 and 33–35 are retired).
const (
	FileTypeF32      FileType = 0
	FileTypeF16      FileType = 1
	FileTypeQ4_0     FileType = 2
	FileTypeQ4_1     FileType = 3
	FileTypeQ8_0     FileType = 7
	FileTypeQ5_0     FileType = 8
	FileTypeQ5_1     FileType = 9
	FileTypeQ2_K     FileType = 10
	FileTypeQ3_K_S   FileType = 11
	FileTypeQ3_K_M   FileType = 12
	FileTypeQ3_K_L   FileType = 13
	FileTypeQ4_K_S   FileType = 14
	FileTypeQ4_K_M   FileType = 15
	FileTypeQ5_K_S   FileType = 16
	FileTypeQ5_K_M   FileType = 17
	FileTypeQ6_K     FileType = 18
	FileTypeIQ2_XXS  FileType = 19
	FileTypeIQ2_XS   FileType = 20
	FileTypeQ2_K_S   FileType = 21
	FileTypeIQ3_XS   FileType = 22
	FileTypeIQ3_XXS  FileType = 23
	FileTypeIQ1_S    FileType = 24
	FileTypeIQ4_NL   FileType = 25
	FileTypeIQ3_S    FileType = 26
	FileTypeIQ3_M    FileType = 27
	FileTypeIQ2_S    FileType = 28
	FileTypeIQ2_M    FileType = 29
	FileTypeIQ4_XS   FileType = 30
	FileTypeIQ1_M    FileType = 31
	FileTypeBF16     FileType = 32
	FileTypeTQ1_0    FileType = 36
	FileTypeTQ2_0    FileType = 37
	FileTypeMXFP4MoE FileType = 38
)

type fileTypeInfo struct {
	name string
	def  gguf.Type // the type most tensors get
}

var fileTypes = map[FileType]fileTypeInfo{
	FileTypeF32: {"F32", gguf.TypeF32}, FileTypeF16: {"F16", gguf.TypeF16}, FileTypeBF16: {"BF16", gguf.TypeBF16},
	FileTypeQ4_0: {"Q4_0", gguf.TypeQ4_0}, FileTypeQ4_1: {"Q4_1", gguf.TypeQ4_1},
	FileTypeQ5_0: {"Q5_0", gguf.TypeQ5_0}, FileTypeQ5_1: {"Q5_1", gguf.TypeQ5_1}, FileTypeQ8_0: {"Q8_0", gguf.TypeQ8_0},
	FileTypeQ2_K: {"Q2_K", gguf.TypeQ2_K}, FileTypeQ2_K_S: {"Q2_K_S", gguf.TypeQ2_K},
	FileTypeQ3_K_S: {"Q3_K_S", gguf.TypeQ3_K}, FileTypeQ3_K_M: {"Q3_K_M", gguf.TypeQ3_K}, FileTypeQ3_K_L: {"Q3_K_L", gguf.TypeQ3_K},
	FileTypeQ4_K_S: {"Q4_K_S", gguf.TypeQ4_K}, FileTypeQ4_K_M: {"Q4_K_M", gguf.TypeQ4_K},
	FileTypeQ5_K_S: {"Q5_K_S", gguf.TypeQ5_K}, FileTypeQ5_K_M: {"Q5_K_M", gguf.TypeQ5_K},
	FileTypeQ6_K:    {"Q6_K", gguf.TypeQ6_K},
	FileTypeIQ2_XXS: {"IQ2_XXS", gguf.TypeIQ2_XXS}, FileTypeIQ2_XS: {"IQ2_XS", gguf.TypeIQ2_XS},
	FileTypeIQ2_S: {"IQ2_S", gguf.TypeIQ2_XS}, FileTypeIQ2_M: {"IQ2_M", gguf.TypeIQ2_S},
	FileTypeIQ3_XXS: {"IQ3_XXS", gguf.TypeIQ3_XXS}, FileTypeIQ3_XS: {"IQ3_XS", gguf.TypeIQ3_S},
	FileTypeIQ3_S: {"IQ3_S", gguf.TypeIQ3_S}, FileTypeIQ3_M: {"IQ3_M", gguf.TypeIQ3_S},
	FileTypeIQ1_S: {"IQ1_S", gguf.TypeIQ1_S}, FileTypeIQ1_M: {"IQ1_M", gguf.TypeIQ1_M},
	FileTypeIQ4_NL: {"IQ4_NL", gguf.TypeIQ4_NL}, FileTypeIQ4_XS: {"IQ4_XS", gguf.TypeIQ4_XS},
	FileTypeTQ1_0: {"TQ1_0", gguf.TypeTQ1_0}, FileTypeTQ2_0: {"TQ2_0", gguf.TypeTQ2_0},
	FileTypeMXFP4MoE: {"MXFP4_MOE", gguf.TypeMXFP4},
}

// aliases are the extra names llama-quantize accepts.
var aliases = map[string]FileType{"Q3_K": FileTypeQ3_K_M, "Q4_K": FileTypeQ4_K_M, "Q5_K": FileTypeQ5_K_M}

// String returns llama-quantize's name of the file type ("Q4_K_M").
func (ft FileType) String() string {
	if i, ok := fileTypes[ft]; ok {
		return i.name
	}
	return fmt.Sprintf("ftype(%d)", uint32(ft))
}

// DefaultType returns the tensor type most tensors of the mix get.
func (ft FileType) DefaultType() (gguf.Type, bool) {
	i, ok := fileTypes[ft]
	return i.def, ok
}

// ParseFileType accepts llama-quantize's names (case-insensitive, with its
// aliases Q3_K, Q4_K, Q5_K) or the file type's number.
func ParseFileType(s string) (FileType, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	if ft, ok := aliases[u]; ok {
		return ft, nil
	}
	for ft, i := range fileTypes {
		if i.name == u {
			return ft, nil
		}
	}
	if n, err := strconv.ParseUint(u, 10, 32); err == nil {
		if _, ok := fileTypes[FileType(n)]; ok {
			return FileType(n), nil
		}
	}
	return 0, fmt.Errorf("quantize: unknown quantization type %q (known: %s)", s, strings.Join(FileTypeNames(), ", "))
}

// FileTypeNames lists the names ParseFileType accepts, aliases included.
func FileTypeNames() []string {
	var out []string
	for _, i := range fileTypes {
		out = append(out, i.name)
	}
	for a := range aliases {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
